"""Reasons for a shortlist item: what lifts this candidate above the others in the same
shortlist, as the short Chinese phrases staff use, with the numbers behind them
("需求约 800㎡，本楼空置 2,400㎡", "3 家上下游伙伴已入驻本楼").

A feature is a reason for a row when
- staff have words for it: only the features in ``_PHRASES`` can be reasons (never coordinates,
  logarithms, entropies or other model internals; a new feature is no reason until it has a
  phrase here);
- it tells the candidates apart: its value is not the same for every item of the shortlist (on
  a building's shortlist the building's own features never are; "与企业同城" is no reason when
  every candidate is in the city), and its contribution is above the shortlist's mean
  contribution for that feature (the relative weight; a one-item list uses the model's own);
- it says something: a missing value, a zero flag, count or share says nothing;
- it is not a courtship that ended in a decline (the pair's latest attraction event is
  ``declined``): then earlier contacts are never a reason in favour.
Finally no text may stand on every item of a shortlist of two or more: such a text is dropped
and the next reasons move up. Items flagged as declined (``declined_on``) carry the flag
"已婉拒 (YYYY-MM-DD)" as their first reason.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tenantmatch.features import CREDIT_FEATURES, FEATURES, Feature, Vocabulary
from tenantmatch.matching.rules import declined_text
from tenantmatch.registry import industry_divisions, label_zh

logger = logging.getLogger(__name__)

TOP_REASONS = 3
WEIGHT_DECIMALS = 4
DECLINED_STAGE = -1.0  # ``pair__last_event_stage`` of a pair whose latest event is a decline
_MAX_PASSES = 4  # rounds of dropping texts common to a whole shortlist
# categorical feature -> vocabulary field whose category list its codes index
_VOCAB_FIELD = {"b__theme": "theme", "e__section": "section", "e__division": "division",
                "e__hq_type": "hq_type"}  # fmt: skip
_CATEGORY_PREFIX = {"theme": "楼宇主题", "section": "行业门类", "division": "行业大类",
                    "hq_type": "总部类型"}  # fmt: skip
_NOT_A_REASON_CATEGORY = frozenset({"none"})  # "非总部" is nothing to point at
_GRADES = {1: "丙级", 2: "乙级", 3: "甲级", 4: "超甲级"}
_STAGES = {1: "contacted", 2: "visited", 3: "negotiating", 4: "signed"}
# attraction history of the pair (and the firm's recent contacts): no reason after a decline
_COURTSHIP = frozenset(
    {"pair__days_since_last_event", "pair__prior_events", "pair__last_event_stage",
     "e__events_12m"}
)  # fmt: skip

Row = Mapping[str, float]
Phrase = Callable[[Row], str]


def _v(row: Row, name: str) -> float:
    value = row.get(name, math.nan)
    return math.nan if value is None else float(value)


def _exp(row: Row, name: str) -> float:
    return math.expm1(_v(row, name))


def _m2(value: float) -> str:
    return f"{value:,.0f}㎡"


def _space(row: Row) -> str:
    need, vacant = _v(row, "e__space_need_m2"), _exp(row, "b__vacant_area_log_m2")
    if math.isnan(need):
        return ""
    if math.isnan(vacant):
        return f"预计需求约 {_m2(need)}"
    return f"需求约 {_m2(need)}，本楼空置 {_m2(vacant)}"


def _fmt(template: str, name: str, *, positive: bool = True) -> Phrase:
    """``template`` filled with the feature's value; "" when missing (or not > 0)."""

    def phrase(row: Row) -> str:
        value = _v(row, name)
        if math.isnan(value) or (positive and value <= 0):
            return ""
        return template.format(value=value)

    return phrase


def _exp_fmt(template: str, name: str) -> Phrase:
    """``template`` filled with expm1 of a log feature (m², people, 万元)."""

    def phrase(row: Row) -> str:
        value = _exp(row, name)
        return "" if math.isnan(value) or value <= 0 else template.format(value=value)

    return phrase


def _flag(text: str, name: str) -> Phrase:
    return lambda row: text if _v(row, name) > 0 else ""


def _lease_end(row: Row) -> str:
    months = _v(row, "e__months_to_cycle_end")
    if math.isnan(months):
        return ""
    if months >= 0:
        return f"按上一租期推算约 {months:.0f} 个月后租约到期"
    return f"按上一租期推算租约约 {-months:.0f} 个月前已到期"


def _growth(row: Row) -> str:
    ratio = _exp(row, "e__area_growth_log")
    if math.isnan(ratio) or round(ratio, 2) == 0:
        return ""
    word = "增长" if ratio > 0 else "缩减"
    return f"办公面积较上一处{word} {abs(ratio):.0%}"


def _grade(row: Row) -> str:
    value = _v(row, "b__grade")
    grade = None if math.isnan(value) else _GRADES.get(round(value))
    return "" if grade is None else f"楼宇等级：{grade}"


def _grade_vs_office(row: Row) -> str:
    steps = _v(row, "pair__grade_vs_office")
    if math.isnan(steps):
        return ""
    if round(steps) == 0:
        return "与企业现办公楼宇同等级"
    return f"楼宇等级比企业现办公楼宇{'高' if steps > 0 else '低'} {abs(steps):.0f} 级"


def _stage(template: str, name: str) -> Phrase:
    def phrase(row: Row) -> str:
        code = _STAGES.get(round(_v(row, name))) if not math.isnan(_v(row, name)) else None
        return "" if code is None else template.format(stage=label_zh(code))

    return phrase


_PHRASES: dict[str, Phrase] = {
    # space need vs vacancy
    "pair__space_need_log_ratio": _space,
    "pair__space_need_fits": lambda row: (
        _space(row) if _v(row, "pair__space_need_fits") > 0 else ""
    ),
    "e__space_need_m2": _space,
    "b__vacant_area_log_m2": _exp_fmt("本楼空置约 {value:,.0f}㎡", "b__vacant_area_log_m2"),
    "b__total_area_log_m2": _exp_fmt("楼宇总面积约 {value:,.0f}㎡", "b__total_area_log_m2"),
    "b__min_unit_log_m2": _exp_fmt("最小可租单元 {value:,.0f}㎡", "b__min_unit_log_m2"),
    "b__vacancy_rate": _fmt("空置率 {value:.0%}", "b__vacancy_rate"),
    # industry and theme fit
    "pair__theme_prior_fit": _fmt("行业与楼宇主题契合度 {value:.0%}", "pair__theme_prior_fit"),
    "pair__theme_fit_learned": _fmt(
        "同行业企业入驻此类主题楼宇的倾向为平均的 {value:.1f} 倍", "pair__theme_fit_learned"
    ),
    "pair__division_share_in_building": _fmt(
        "本楼 {value:.0%} 的企业与其同属一个行业大类", "pair__division_share_in_building"
    ),
    "pair__section_share_in_building": _fmt(
        "本楼 {value:.0%} 的企业与其同属一个行业门类", "pair__section_share_in_building"
    ),
    # chain partners in the building
    "pair__chain_partners_in_building": _fmt(
        "{value:.0f} 家上下游伙伴已入驻本楼", "pair__chain_partners_in_building"
    ),
    "pair__upstream_partners_in_building": _fmt(
        "{value:.0f} 家上游供应商已入驻本楼", "pair__upstream_partners_in_building"
    ),
    "pair__downstream_partners_in_building": _fmt(
        "{value:.0f} 家下游客户已入驻本楼", "pair__downstream_partners_in_building"
    ),
    "pair__invest_partners_in_building": _fmt(
        "{value:.0f} 家投资关联企业已入驻本楼", "pair__invest_partners_in_building"
    ),
    "pair__size_similarity_to_tenants": _fmt(
        "与在驻企业规模相近（相似度 {value:.0%}）", "pair__size_similarity_to_tenants"
    ),
    # lease ending, moves
    "e__months_to_cycle_end": _lease_end,
    "e__lease_end_12m": _fmt("12个月内租约到期的可能性约 {value:.0%}", "e__lease_end_12m"),
    "e__tenure_years": _fmt("在现址已 {value:.1f} 年", "e__tenure_years"),
    "e__months_since_move": _fmt("距上次迁址 {value:.0f} 个月", "e__months_since_move"),
    "e__move_hazard": _fmt("同类企业一年内迁址的可能性约 {value:.0%}", "e__move_hazard"),
    # growth and size
    "e__area_growth_log": _growth,
    "e__moves_3y": _fmt("近3年 {value:.0f} 次迁址或扩租", "e__moves_3y"),
    "e__log_employees": _exp_fmt("员工约 {value:,.0f} 人", "e__log_employees"),
    "e__log_revenue_10k_cny": _exp_fmt("营收约 {value:,.0f} 万元", "e__log_revenue_10k_cny"),
    "e__log_capital_10k_cny": _exp_fmt("注册资本约 {value:,.0f} 万元", "e__log_capital_10k_cny"),
    "e__age_years": _fmt("成立 {value:.0f} 年", "e__age_years"),
    # credit
    "e__credit_score": _fmt("信用评分 {value:.0f} 分", "e__credit_score"),
    # the building and its place, as an enterprise's staff would weigh them
    "b__grade": _grade,
    "pair__grade_vs_office": _grade_vs_office,
    "b__rent_cny_m2_day": _fmt("租金 {value:.1f} 元/㎡·天", "b__rent_cny_m2_day"),
    "pair__rent_burden": _fmt("年租金约占营收 {value:.1%}", "pair__rent_burden"),
    "b__smart_5a": _fmt("具备 {value:.0f} 项5A智能化系统", "b__smart_5a"),
    "b__amenity_count": _fmt("{value:.0f} 项配套设施", "b__amenity_count"),
    "b__has_metro": _flag("临近地铁", "b__has_metro"),
    "b__has_parking": _flag("配有停车场", "b__has_parking"),
    "b__age_years": _fmt("楼龄 {value:.0f} 年", "b__age_years", positive=False),
    "b__centre_km": _fmt("距市中心 {value:.1f} 公里", "b__centre_km", positive=False),
    "b__tenant_count": _fmt("本楼现有 {value:.0f} 家在驻企业", "b__tenant_count"),
    "b__moveins_12m": _fmt("近12个月 {value:.0f} 家企业入驻本楼", "b__moveins_12m"),
    "b__occupancy_trend_12m": _fmt("近12个月本楼净入驻 {value:+.0f} 家", "b__occupancy_trend_12m"),
    "pair__distance_km": _fmt("距企业现址 {value:.1f} 公里", "pair__distance_km", positive=False),
    "pair__same_city": _flag("与企业同城", "pair__same_city"),
    "pair__same_district": _flag("与企业同区县", "pair__same_district"),
    # the pair's own attraction history (never after a decline, see _COURTSHIP)
    "pair__days_since_last_event": _fmt(
        "{value:.0f} 天前与本楼有过招商接触", "pair__days_since_last_event", positive=False
    ),
    "pair__last_event_stage": _stage("最近一次招商进展：{stage}", "pair__last_event_stage"),
    "pair__prior_events": _stage("此前招商最远推进到：{stage}", "pair__prior_events"),
    "e__events_12m": _fmt("近12个月 {value:.0f} 次招商接触（各楼宇）", "e__events_12m"),
    # HQ / 500强 status and other tags
    **{f.name: _flag(f.explain_zh, f.name) for f in FEATURES if f.name.startswith("e__tag_")},
}
REASON_FEATURES: frozenset[str] = frozenset(_PHRASES) | frozenset(_VOCAB_FIELD)


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


def reason_text(feature: Feature | str, row: Row, *, vocab: Vocabulary) -> str:
    """The staff phrase for ``feature`` given the pair's feature values ``row``; "" when it
    has none (not a reason feature, value missing, a zero flag, count or share, or a code
    outside the vocabulary)."""
    name = feature if isinstance(feature, str) else feature.name
    field = _VOCAB_FIELD.get(name)
    if field is None:
        phrase = _PHRASES.get(name)
        return phrase(row) if phrase is not None else ""
    value = _v(row, name)
    categories = getattr(vocab, field)
    if math.isnan(value) or not 0 <= value < len(categories):
        return ""
    category = categories[int(value)]
    if category in _NOT_A_REASON_CATEGORY:
        return ""
    return f"{_CATEGORY_PREFIX[field]}：{_category_name(field, category)}"


def top_reasons(
    contributions: np.ndarray,
    X: pd.DataFrame,
    *,
    vocab: Vocabulary,
    groups: np.ndarray | None = None,
    declined_on: Sequence[str | None] | None = None,
    top: int = TOP_REASONS,
) -> list[list[dict[str, object]]]:
    """Per row of X (n, n_features), up to ``top`` reasons ``{"feature", "text", "weight"}``,
    strongest first; ``weight`` is the contribution minus the shortlist's mean for the feature.
    ``contributions``: (n, n_features[+1 bias]) in X's column order. ``groups``: the shortlist
    of each row (n,), None: all rows are one. ``declined_on``: per row the ISO date of a recent
    decline or None; a date puts "已婉拒 (date)" first (not counted in ``top``)."""
    layout = _layout(tuple(str(c) for c in X.columns.tolist()))  # not label by label (pyarrow)
    n = len(X)
    if n == 0:
        return []
    shortlists = _Groups(groups, n)
    values = X.to_numpy(dtype=np.float64)
    contrib = np.asarray(contributions, dtype=np.float64)[:, : len(layout.columns)]
    weight = _relative(contrib[:, layout.cols], shortlists)
    usable = (weight > 0) & ~_same_in_group(values[:, layout.cols], shortlists)
    if layout.stage is not None:  # a courtship that ended in a decline is no reason
        declined = values[:, layout.stage] == DECLINED_STAGE
        usable &= ~(declined[:, None] & layout.courtship[None, :])
    ctx = _Texts(names=layout.names, weight=weight.tolist(), ranked=_ranked(weight, usable),
                 rows=_Rows(values.tolist(), layout.columns), vocab=vocab, top=top)  # fmt: skip
    reasons = _without_common_texts(ctx, shortlists.codes)
    for i, day in enumerate(declined_on or ()):
        if day:
            flag = 0.0 if layout.stage_k is None else weight[i, layout.stage_k]
            reasons[i] = [{"feature": "pair__last_event_stage", "text": declined_text(day),
                           "weight": round(float(flag), WEIGHT_DECIMALS)}, *reasons[i]]  # fmt: skip
    return reasons


class _Layout:
    """What a column order means for reasons, worked out once per order: ``cols`` the reason
    features' positions, ``names`` theirs, ``courtship`` which of them are attraction history,
    ``stage`` / ``stage_k`` the latest stage's position in X / among ``cols`` (None: absent)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.columns = {name: j for j, name in enumerate(names)}
        self.cols = np.array([j for j, n in enumerate(names) if n in REASON_FEATURES], np.intp)
        self.names = [names[j] for j in self.cols]
        self.courtship = np.array([n in _COURTSHIP for n in self.names], dtype=bool)
        self.stage = self.columns.get("pair__last_event_stage")
        stage_k = [k for k, n in enumerate(self.names) if n == "pair__last_event_stage"]
        self.stage_k = stage_k[0] if stage_k else None


@functools.lru_cache(maxsize=16)
def _layout(names: tuple[str, ...]) -> _Layout:
    return _Layout(names)


def _relative(contrib: np.ndarray, groups: _Groups) -> np.ndarray:
    """Contribution minus the mean of its shortlist (rows of one-row shortlists unchanged)."""
    mean = np.add.reduceat(contrib[groups.order], groups.starts, axis=0) / groups.sizes[:, None]
    mean[groups.sizes == 1] = 0.0
    return contrib - mean[groups.codes]


def _same_in_group(values: np.ndarray, groups: _Groups) -> np.ndarray:
    """(n, f) True where the feature has one value over the row's whole shortlist (missing
    counts as a value of its own); all False for a one-row shortlist."""
    filled = np.where(np.isnan(values), -np.inf, values)[groups.order]
    low = np.minimum.reduceat(filled, groups.starts, axis=0)
    high = np.maximum.reduceat(filled, groups.starts, axis=0)
    same = low == high
    same[groups.sizes < 2] = False
    return same[groups.codes]


class _Groups:
    """The shortlists of the rows: ``codes`` (n,) 0..g-1, ``order`` sorting rows by shortlist,
    ``starts`` of each shortlist in that order, ``sizes`` (g,)."""

    def __init__(self, groups: np.ndarray | None, n: int) -> None:
        if groups is None:
            self.codes = np.zeros(n, dtype=np.intp)
        else:
            self.codes = np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1)
        self.order = np.argsort(self.codes, kind="stable")
        self.sizes = np.bincount(self.codes)
        self.starts = np.r_[0, np.cumsum(self.sizes)[:-1]]


def _ranked(weight: np.ndarray, usable: np.ndarray) -> list[list[int]]:
    """Per row, the usable columns by weight, strongest first (stable)."""
    order = np.argsort(-np.where(usable, weight, -np.inf), axis=1, kind="stable")
    counts = usable.sum(axis=1).tolist()
    return [o[:c] for o, c in zip(order.tolist(), counts, strict=True)]


class _Rows:
    """Rows of X read by feature name without a dict per row (a batch of 16 shortlists has
    800 rows of 75 features; a reason reads a few of them)."""

    def __init__(self, values: list[list[float]], columns: dict[str, int]) -> None:
        self.values, self.columns = values, columns

    def __getitem__(self, i: int) -> _RowView:
        return _RowView(self.values[i], self.columns)


class _RowView(Mapping[str, float]):
    __slots__ = ("_columns", "_values")

    def __init__(self, values: list[float], columns: dict[str, int]) -> None:
        self._values = values
        self._columns = columns

    def __getitem__(self, name: str) -> float:
        return self._values[self._columns[name]]

    def get(self, name: str, default: float = math.nan) -> float:  # type: ignore[override]
        at = self._columns.get(name)
        return default if at is None else self._values[at]

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


class _Texts:
    """What one row's reasons are read from (the reason columns' names, relative weights and
    ranking; the rows of X)."""

    def __init__(self, *, names: list[str], weight: list[list[float]], ranked: list[list[int]],
                 rows: _Rows, vocab: Vocabulary, top: int) -> None:  # fmt: skip
        self.names, self.weight, self.ranked = names, weight, ranked
        self.rows, self.vocab, self.top = rows, vocab, top

    def row(self, i: int, banned: frozenset[str]) -> list[dict[str, object]]:
        """Row ``i``'s reasons, strongest first, skipping empty, repeated and ``banned`` texts
        (two space features share one phrase)."""
        reasons: list[dict[str, object]] = []
        seen: set[str] = set()
        view = self.rows[i]
        for k in self.ranked[i]:
            text = reason_text(self.names[k], view, vocab=self.vocab)
            if not text or text in seen or text in banned:
                continue
            seen.add(text)
            weight = round(self.weight[i][k], WEIGHT_DECIMALS)
            reasons.append({"feature": self.names[k], "text": text, "weight": weight})
            if len(reasons) >= self.top:
                break
        return reasons


def _without_common_texts(ctx: _Texts, codes: np.ndarray) -> list[list[dict[str, object]]]:
    """Every row's reasons, where no text stands on all items of a shortlist of two or more
    (such texts are banned in that shortlist and its rows' reasons computed again)."""
    out = [ctx.row(i, frozenset()) for i in range(len(codes))]
    members: dict[int, list[int]] = {}
    for i, g in enumerate(codes.tolist()):
        members.setdefault(g, []).append(i)
    for rows in members.values():
        if len(rows) < 2:
            continue
        banned: frozenset[str] = frozenset()
        for _ in range(_MAX_PASSES):
            common = _common_texts(out, rows)
            if not common:
                break
            banned |= common
            for i in rows:
                out[i] = ctx.row(i, banned)
        common = _common_texts(out, rows)  # still some after the last pass: drop, no refill
        for i in rows:
            out[i] = [r for r in out[i] if r["text"] not in common]
    return out


def _common_texts(out: list[list[dict[str, object]]], rows: list[int]) -> set[str]:
    return set.intersection(*({str(r["text"]) for r in out[i]} for i in rows))


def without_credit(result: Mapping[str, Any]) -> dict[str, Any]:
    """A shortlist or chain-lead answer as a role that may not see credit details gets it: the
    reasons drawn from credit features (``features.CREDIT_FEATURES``) and the risk warnings
    removed from every item; the rest unchanged."""
    def clean(item: Mapping[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in item.items() if k != "risk_warnings"}
        if "reasons" in item:
            reasons = item["reasons"]
            kept["reasons"] = [r for r in reasons if r.get("feature") not in CREDIT_FEATURES]
        return kept

    return {**result, "items": [clean(item) for item in result.get("items", [])]}
