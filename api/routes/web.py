"""The staff web page (static HTML + JS from ``api/static``) and the labels it displays."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from tenantmatch.api.labels import code_labels, industry_labels
from tenantmatch.api.schemas import LabelsOut

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(tags=["web"])


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The staff page (Chinese UI); it asks for an API key and keeps it in sessionStorage."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")


@router.get("/v1/labels", response_model=LabelsOut)
def labels() -> LabelsOut:
    """Chinese names of contract codes and industries (public: no key needed)."""
    return LabelsOut(labels=code_labels(), industries=industry_labels())
