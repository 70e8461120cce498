"""The project's base errors, at the bottom of the layers; the CLI and the API map them to exit
codes (2 for InputError, 1 for the rest) and HTTP."""

from __future__ import annotations

from dataclasses import dataclass


class TenantmatchError(Exception):
    """Base of every error this project raises on purpose."""


class InputError(TenantmatchError):
    """The caller's input is wrong (CLI exit code 2, HTTP 4xx)."""


class NotFoundError(InputError):
    """An id that the registry does not hold."""


@dataclass(frozen=True)
class RowError:
    """One rejected row: where it is and why. ``row`` is the 1-based line/row number in the file
    with the header as row 1 (so the first data row is 2), for CSV, xlsx and Parquet alike.
    ``reason`` is English (the text scripts match), ``reason_zh`` the same in Chinese."""

    file: str
    row: int
    column: str
    value: str
    reason: str
    reason_zh: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: column {self.column!r} value {self.value!r}: {self.reason}"


class ValidationFailed(InputError):
    """A dataset broke the data contract; nothing was written."""

    def __init__(self, errors: list[RowError], *, table: str | None = None) -> None:
        self.errors = errors
        self.table = table  # the one table checked, when only one was (an upload)
        shown = "\n".join(f"  {e}" for e in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} invalid row(s), nothing imported:\n{shown}{more}")


class ConflictError(InputError):
    """The request is well formed but conflicts with the stored state (an id that exists, a
    move-in larger than the vacancy); nothing was written (HTTP 409)."""


class ForbiddenError(InputError):
    """The caller's role may not write these fields of this record (the write matrix,
    ``store.access.WRITE_MATRIX``); nothing was written (HTTP 403)."""


class PreconditionFailed(InputError):
    """The caller's copy is stale: the stored record no longer has the ETag it sent in
    ``If-Match`` (or does not exist); nothing was written (HTTP 412)."""


class SchemaError(InputError):
    """A registry table lacks a required column or holds a value of the wrong type."""


class ReferenceDataError(TenantmatchError):
    """The packaged reference data (GB/T 4754 divisions, districts, themes) is missing or broken."""


class MissingExtraError(InputError):
    """A feature needs an optional dependency that is not installed (CLI exit code 2)."""

    def __init__(self, feature: str, *, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional package {module!r}, which is not installed; "
            f"install the extra: pip install 'tenantmatch[{extra}]'"
        )
