"""Entity tags of registry records (RFC 9110): reads and writes answer an ``ETag``, updates honour
``If-Match`` so a client never overwrites a change it has not seen (412 instead)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Header, Response

from tenantmatch.store import row_etag

ANY = "*"


def parse_if_match(value: str | None) -> frozenset[str] | None:
    """The entity tags of an ``If-Match`` header, quoted (``"*"`` kept); None when absent.

    Weak tags (``W/"…"``) are dropped: If-Match compares strongly, so they never match. A tag
    sent without its quotes is taken as if quoted.
    """
    if value is None:
        return None
    tags: set[str] = set()
    for part in (p.strip() for p in value.split(",")):
        if part == ANY or (part and not part.startswith("W/")):
            tags.add(part if part == ANY or part.startswith('"') else f'"{part}"')
    return frozenset(tags)


async def _if_match(
    value: Annotated[
        str | None,
        Header(alias="If-Match", description='ETag(s) of the copy you change, or "*".'),
    ] = None,
) -> frozenset[str] | None:
    return parse_if_match(value)


IfMatchDep = Annotated[frozenset[str] | None, Depends(_if_match)]


def set_etag(response: Response, row: Mapping[str, Any]) -> None:
    """Answer the stored row's entity tag in the ``ETag`` header."""
    response.headers["ETag"] = row_etag(row)
