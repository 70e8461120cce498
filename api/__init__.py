"""The HTTP service: FastAPI app, settings, dependencies, schemas, routes, error mapping."""

from tenantmatch.api.app import create_app
from tenantmatch.api.settings import Settings

__all__ = ["Settings", "create_app"]
