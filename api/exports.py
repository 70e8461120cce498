"""Files for download: a flattened result (``matching.export``) as a CSV or XLSX attachment."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Response

from tenantmatch.matching import ExportTable, render_table
from tenantmatch.registry import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE

# OpenAPI: a route with ``format`` answers one of these besides JSON.
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CSV_MEDIA_TYPE.split(";")[0]: {}, XLSX_MEDIA_TYPE: {}},
        "description": "JSON, or with format=csv|xlsx a file with Chinese column headers.",
    }
}


def file_response(table: ExportTable, fmt: str, *, stem: str) -> Response:
    """``table`` as a ``fmt`` (csv or xlsx) attachment named ``<stem>.<fmt>``; the name is
    given in ASCII (non-ASCII as ``_``) and in full as RFC 5987 ``filename*``."""
    body, media_type = render_table(table, fmt)
    name = f"{stem}.{fmt}"
    ascii_name = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in name)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})
