"""Request schemas: dates are written YYYY-MM-DD, never read from a number."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from tenantmatch.api.schemas import EventIn, ShortlistQuery

EVENT = {"enterprise_id": "E1", "building_id": "B1", "stage": "visited"}


def test_an_iso_date_is_read() -> None:
    assert EventIn.model_validate({**EVENT, "date": "2026-11-20"}).date == date(2026, 11, 20)
    assert ShortlistQuery.model_validate({"as_of": "2024-06-30"}).as_of == date(2024, 6, 30)


@pytest.mark.parametrize("value", [0, 1_700_000_000, "0", "20261120", "2026/11/20", 3.5])
def test_a_number_or_another_spelling_is_not_a_date(value: object) -> None:
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        EventIn.model_validate({**EVENT, "date": value})
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        ShortlistQuery.model_validate({"as_of": value})
