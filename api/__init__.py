"""The HTTP service: FastAPI app, settings, dependencies, schemas, routes, error mapping."""

from api.app import create_app
from api.settings import Settings

__all__ = ["Settings", "create_app"]
