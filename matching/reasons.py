"""Reasons for a shortlist item: the features that pushed its score up most, as short Chinese
phrases carrying the numbers behind them ("3 家上下游伙伴已入驻本楼").

The text comes from each feature's ``explain_zh`` template filled with the pair's value, except
where the raw value means little to staff: logarithms are shown back in m², people or 万元, and
categorical codes as the category's Chinese name. A reason whose value is missing, or a flag or
count that is zero (nothing to point at), is skipped.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from tenantmatch.features import FEATURES, Feature, Vocabulary
from tenantmatch.registry import industry_divisions, label_zh

logger = logging.getLogger(__name__)

TOP_REASONS = 3
WEIGHT_DECIMALS = 4
_ZERO_MEANS_NOTHING = frozenset({"flag", "count"})
# categorical feature -> vocabulary field whose category list its codes index
_VOCAB_FIELD = {"b__theme": "theme", "e__section": "section", "e__division": "division",
                "e__hq_type": "hq_type"}  # fmt: skip
_CATEGORY_PREFIX = {"theme": "楼宇主题", "section": "行业门类", "division": "行业大类",
                    "hq_type": "总部类型"}  # fmt: skip

Row = Mapping[str, float]


def _m2(value: float) -> str:
    return f"{value:,.0f}㎡"


def _exp(row: Row, name: str) -> float:
    return math.expm1(row[name]) if name in row else math.nan


def _space_phrase(row: Row) -> str:
    need, vacant = row.get("e__space_need_m2", math.nan), _exp(row, "b__vacant_area_log_m2")
    if math.isnan(need) or math.isnan(vacant):
        return ""
    return f"需求约 {_m2(need)}，本楼空置 {_m2(vacant)}"


# Features whose template would show a logarithm: phrase built from the row instead.
_PHRASES: dict[str, Callable[[Row], str]] = {
    "b__total_area_log_m2": lambda r: f"楼宇总面积约 {_m2(_exp(r, 'b__total_area_log_m2'))}",
    "b__vacant_area_log_m2": lambda r: f"本楼空置约 {_m2(_exp(r, 'b__vacant_area_log_m2'))}",
    "b__min_unit_log_m2": lambda r: f"最小可租单元 {_m2(_exp(r, 'b__min_unit_log_m2'))}",
    "e__log_employees": lambda r: f"员工约 {_exp(r, 'e__log_employees'):,.0f} 人",
    "e__log_revenue_10k_cny": lambda r: f"营收约 {_exp(r, 'e__log_revenue_10k_cny'):,.0f} 万元",
    "e__log_capital_10k_cny": lambda r: f"注册资本约 {_exp(r, 'e__log_capital_10k_cny'):,.0f} 万元",
    "pair__space_need_log_ratio": _space_phrase,
    "pair__space_need_fits": _space_phrase,
}


@functools.cache
def _industry_names() -> dict[str, str]:
    """Chinese names of GB/T 4754 sections (by letter) and divisions (by 2-digit code)."""
    table = industry_divisions()
    names = dict(zip(table["section"], table["section_name_zh"], strict=True))
    return names | dict(zip(table["division"], table["name_zh"], strict=True))


def _category_name(field: str, category: str) -> str:
    if field in ("section", "division"):
        return f"{category} {_industry_names().get(category, '')}".strip()
    return label_zh(category)


def reason_text(feature: Feature, row: Row, *, vocab: Vocabulary) -> str:
    """The phrase for ``feature`` given the pair's feature values ``row``; "" when it has none
    (value missing, a zero flag or count, or a code outside the vocabulary)."""
    value = row[feature.name]
    if math.isnan(value) or (feature.kind in _ZERO_MEANS_NOTHING and value <= 0):
        return ""
    if feature.name in _PHRASES:
        return _PHRASES[feature.name](row)
    field = _VOCAB_FIELD.get(feature.name)
    if field is not None:
        categories = getattr(vocab, field)
        if not 0 <= value < len(categories):
            return ""
        return f"{_CATEGORY_PREFIX[field]}：{_category_name(field, categories[int(value)])}"
    return feature.explain_zh.format(value=value)


def top_reasons(
    contributions: np.ndarray,
    X: pd.DataFrame,
    *,
    vocab: Vocabulary,
    features: Sequence[Feature] = FEATURES,
    top: int = TOP_REASONS,
) -> list[list[dict[str, object]]]:
    """Per row of X (n, n_features), up to ``top`` reasons ``{"feature", "text", "weight"}``
    from the largest positive contributions (n, n_features[+1 bias]), strongest first."""
    by_name = {f.name: f for f in features}
    names = [str(c) for c in X.columns.tolist()]  # not label by label from pyarrow
    known = [by_name.get(name) for name in names]
    contrib = np.asarray(contributions, dtype=np.float64)[:, : len(names)]
    order = np.argsort(-contrib, axis=1, kind="stable")
    # Python floats and ints: math reads them faster than numpy scalars read one by one
    values = X.to_numpy(dtype=np.float64).tolist()
    credits, orders = contrib.tolist(), order.tolist()
    columns = {name: j for j, name in enumerate(names)}
    return [_row_reasons(_RowView(values[i], columns), credits[i], orders[i], names=names,
                         known=known, vocab=vocab, top=top)
            for i in range(len(X))]  # fmt: skip


class _RowView(Mapping[str, float]):
    """One row of X read by feature name, without building a dict of all its columns: a
    reason reads a few of them (a batch of 16 shortlists has 800 rows of 75 features)."""

    __slots__ = ("_columns", "_values")

    def __init__(self, values: list[float], columns: dict[str, int]) -> None:
        self._values = values
        self._columns = columns

    def __getitem__(self, name: str) -> float:
        return self._values[self._columns[name]]

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def _row_reasons(
    row: Row,
    contrib: Sequence[float],
    order: Sequence[int],
    *,
    names: list[str],
    known: list[Feature | None],
    vocab: Vocabulary,
    top: int,
) -> list[dict[str, object]]:
    reasons: list[dict[str, object]] = []
    seen: set[str] = set()
    for j in order:
        if len(reasons) >= top or contrib[j] <= 0:
            break
        feature = known[j]
        text = reason_text(feature, row, vocab=vocab) if feature is not None else ""
        if not text or text in seen:  # two space features can share one phrase
            continue
        seen.add(text)
        weight = round(contrib[j], WEIGHT_DECIMALS)
        reasons.append({"feature": names[j], "text": text, "weight": weight})
    return reasons
