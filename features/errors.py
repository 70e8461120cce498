"""Errors of the features layer.

``features`` is the lowest layer and cannot import ``matching.errors``; callers above map these
(``matching`` turns an unknown id into its ``NotFoundError``).
"""

from __future__ import annotations

from collections.abc import Iterable


class FeatureError(Exception):
    """Base of every error the features layer raises on purpose."""


class SchemaError(FeatureError):
    """A registry table lacks a required column or holds a value of the wrong type."""


class UnknownIdError(FeatureError):
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
