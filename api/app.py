"""The FastAPI application factory (``uvicorn api.app:create_app --factory``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import health, shortlists
from api.settings import Settings
from matching import Engine, Repository


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app over the database and model store the settings name."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        repo = Repository(settings.db)
        app.state.settings = settings
        app.state.repository = repo
        app.state.engine = Engine(repo, settings.models, as_of=date.today())
        yield

    app = FastAPI(
        title="tenantmatch",
        description="楼宇招商匹配: shortlists of enterprises for buildings and buildings for enterprises.",
        version="1",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(shortlists.router)
    return app
