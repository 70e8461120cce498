"""Chinese display names for the web page: contract codes and GB/T 4754 industries."""

from __future__ import annotations

from functools import cache

from tenantmatch.registry import industry_divisions
from tenantmatch.registry.enums import LABELS_ZH


@cache
def code_labels() -> dict[str, str]:
    """Every contract enum code -> its Chinese label (themes, grades, tags, risk flags ...)."""
    return {str(code): label for code, label in LABELS_ZH.items()}


@cache
def industry_labels() -> dict[str, str]:
    """GB/T 4754-2017 division code ("66") and section letter ("J") -> Chinese name."""
    table = industry_divisions()
    divisions = dict(zip(table["division"], table["name_zh"], strict=True))
    sections = dict(zip(table["section"], table["section_name_zh"], strict=True))
    return {str(k): str(v) for k, v in (sections | divisions).items()}
