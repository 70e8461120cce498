"""Errors of the features layer, under the project's ``TenantmatchError`` (exit code 1; an
unknown id is an ``InputError``, exit code 2)."""

from __future__ import annotations

from collections.abc import Iterable

from tenantmatch.registry import InputError, TenantmatchError


class FeatureError(TenantmatchError):
    """Base of every error the features layer raises on purpose."""


class UnknownIdError(FeatureError, InputError):
    """Pairs name building or enterprise ids that the snapshot does not hold."""

    def __init__(self, kind: str, ids: Iterable[object], *, total: int) -> None:
        self.kind = kind
        self.ids = [str(i) for i in ids]
        shown = ", ".join(repr(i) for i in self.ids[:10])
        more = f" and {len(self.ids) - 10} more" if len(self.ids) > 10 else ""
        super().__init__(
            f"unknown {kind} id(s) {shown}{more}; the snapshot holds {total} {kind}s "
            f"(enterprises founded after the snapshot date are not in it)"
        )


class VocabularyError(FeatureError):
    """A vocabulary dict is malformed, or a context was built with another vocabulary."""
