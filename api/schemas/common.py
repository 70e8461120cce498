"""Shapes shared by every route: errors, reasons, bounded ids and names."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from tenantmatch.registry import (
    EXCEL_MANGLED_ID,
    EXCEL_MANGLED_REASON,
    ID_PATTERN,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    TEXT_PATTERN,
    excel_mangled,
)


def _not_excel_mangled(value: str) -> str:
    if excel_mangled(value):
        raise ValueError(EXCEL_MANGLED_REASON)
    return value


# OpenAPI says so too, so clients (and schemathesis) know an Excel-mangled id is refused
_ID_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_ID_CHARS,
    "pattern": ID_PATTERN,
    "not": {"pattern": f"^{EXCEL_MANGLED_ID.pattern}$"},
}
EntityId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN),
    AfterValidator(_not_excel_mangled),
    WithJsonSchema(_ID_SCHEMA),
]
ShortText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS, pattern=TEXT_PATTERN),
]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: object) -> object:
    """A date is written YYYY-MM-DD: pydantic alone would also read a number as Unix time
    (0 as 1970-01-01), which no client means."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("a date must be written YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]

_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"
)


def _iso_datetime_only(value: object) -> object:
    """A time is written ISO 8601 (YYYY-MM-DD, optionally THH:MM[:SS] and a zone), never as a
    number (pydantic would read it as Unix time)."""
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATETIME.fullmatch(value)):
        return value
    raise ValueError("a time must be written ISO 8601, e.g. 2026-12-07T09:30:00Z")


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime_only)]


class StrictIn(BaseModel):
    """Base of request bodies: unknown fields, NaN and infinity are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_boolean_numbers(cls, data: Any) -> Any:
        """A JSON true/false is refused where a number or text is expected (pydantic's lax mode
        would read true as 1.0)."""
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name)
                if (
                    isinstance(value, bool)
                    and field is not None
                    and not _accepts_bool(field.annotation)
                ):
                    raise ValueError(f"{name}: a boolean is not allowed here")
        return data


def _accepts_bool(annotation: Any) -> bool:
    return annotation is bool or any(_accepts_bool(a) for a in get_args(annotation))


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. not_found.")
    message: str = Field(
        description="What was wrong and what is allowed (a 5xx answer: the "
        "error catalogue's message, never internals)."
    )
    message_zh: str | None = Field(default=None, description="The catalogue's Chinese message.")
    request_id: str | None = Field(default=None, description="Quote it to find the log lines.")


class ErrorOut(BaseModel):
    error: ErrorDetail


class ReasonOut(BaseModel):
    feature: str
    text: str = Field(description="The reason in Chinese, for staff.")
    weight: float


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` entries for the JSON error form."""
    return {status: {"model": ErrorOut} for status in statuses}


AUTH_ERRORS = (401, 403, 413, 422)
