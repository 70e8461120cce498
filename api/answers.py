"""Shortlist answers as the JSON bytes the API sends, kept per scoring state.

A repeated query is answered with the stored bytes: no copy of the result, no response
validation, no serialisation. The cache belongs to the engine's current scoring state and is
emptied when a new state arrives (data, model or date changed), like the engine's own cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from api.schemas import ShortlistOut, ShortlistQuery
from matching import Engine
from matching.cache import StateCache

# FastAPI's own serialisation of a ``response_model`` (validate, then dump_json by alias,
# without None fields), so the bytes equal what the route sent before they were cached.
_SHORTLIST = TypeAdapter(ShortlistOut)

Shortlists = Callable[..., list[dict[str, Any]]]


def render_shortlist(result: dict[str, Any]) -> bytes:
    """One shortlist (the jsonl object) as the route's JSON body, validated against the schema."""
    value = _SHORTLIST.validate_python(result, from_attributes=True)
    return _SHORTLIST.dump_json(value, by_alias=True, exclude_none=True)


class ShortlistAnswers:
    """Rendered shortlists of both directions, the ``maxsize`` most recently used per state."""

    def __init__(self, engine: Engine, *, maxsize: int) -> None:
        self.engine = engine
        self.cache: StateCache[bytes] = StateCache(maxsize)

    def for_building(self, building_id: str, query: ShortlistQuery) -> bytes:
        """The body of ``GET /v1/buildings/{building_id}/shortlist``."""
        return self._answer(self.engine.shortlist_for_buildings, "building", building_id, query)

    def for_enterprise(self, enterprise_id: str, query: ShortlistQuery) -> bytes:
        """The body of ``GET /v1/enterprises/{enterprise_id}/shortlist``."""
        return self._answer(
            self.engine.shortlist_for_enterprises, "enterprise", enterprise_id, query
        )

    def _answer(
        self, shortlists: Shortlists, direction: str, id_: str, query: ShortlistQuery
    ) -> bytes:
        rules = query.rules()
        # A state newer than ``state`` may score a miss: its answer is then stored under the
        # older state, which the next request replaces; an answer is never older than its state.
        state = self.engine.state()

        def compute(ids: list[str]) -> list[bytes]:
            return [render_shortlist(r) for r in shortlists(ids, k=query.k, rules=rules)]

        return self.cache.results(state, (direction, query.k, rules), [id_], compute)[0]
