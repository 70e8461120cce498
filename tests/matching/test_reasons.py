"""Reasons: what lifts an item above the others of its shortlist, in staff words, with numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tenantmatch.features import FEATURES, Vocabulary, feature_names
from tenantmatch.matching.reasons import REASON_FEATURES, reason_text, top_reasons

BY_NAME = {f.name: f for f in FEATURES}
VOCAB = Vocabulary(theme=("finance", "tech_rnd"), section=("I", "J"), division=("65", "66"),
                   hq_type=("none", "regional_hq"))  # fmt: skip
NEVER = {"b__lat", "b__lon", "e__area_per_employee_log", "pair__grade_x_log_employees",
         "pair__amenities_x_log_employees", "b__tenant_mix_entropy",
         "e__risk_flag_count"}  # fmt: skip


def _frame(columns: list[str], rows: list[list[float]]) -> pd.DataFrame:
    return pd.DataFrame(np.array(rows, dtype=np.float32), columns=columns)


def _texts(reasons: list[dict[str, object]]) -> list[object]:
    return [r["text"] for r in reasons]


def test_weights_are_relative_to_the_shortlist_and_shared_values_are_no_reason() -> None:
    columns = ["pair__chain_partners_in_building", "pair__same_city", "e__log_employees",
               "b__vacant_area_log_m2"]  # fmt: skip
    X = _frame(columns, [[3, 1, math.log1p(120), math.log1p(2400)],
                         [0, 1, math.log1p(40), math.log1p(2400)],
                         [1, 1, math.log1p(300), math.log1p(2400)]])  # fmt: skip
    contrib = np.array([[0.50, 0.9, 0.10, 0.3, 1.5],  # last column: the bias
                        [0.05, 0.9, -0.2, 0.3, 1.5],
                        [0.20, 0.9, 0.40, 0.3, 1.5]])  # fmt: skip
    reasons = top_reasons(contrib, X, vocab=VOCAB)
    # chain: mean 0.25, so +0.25 / -0.2 / -0.05; staff: mean 0.1, so 0.0 / -0.3 / +0.3
    assert reasons[0] == [{"feature": "pair__chain_partners_in_building",
                           "text": "3 家上下游伙伴已入驻本楼", "weight": 0.25}]  # fmt: skip
    assert reasons[1] == []
    assert reasons[2] == [{"feature": "e__log_employees", "text": "员工约 300 人", "weight": 0.3}]
    # every candidate is in the city and the building's vacancy is one: never a reason
    assert all(
        "与企业同城" not in _texts(r) and "本楼空置约 2,400㎡" not in _texts(r) for r in reasons
    )


def test_same_city_is_a_reason_only_where_it_tells_candidates_apart() -> None:
    X = _frame(["pair__same_city", "pair__distance_km"], [[1, 3.0], [0, 250.0], [1, 8.0]])
    contrib = np.array([[0.4, 0.1], [-0.5, -0.2], [0.4, 0.05]])
    reasons = top_reasons(contrib, X, vocab=VOCAB)
    assert _texts(reasons[0]) == ["与企业同城", "距企业现址 3.0 公里"]
    assert _texts(reasons[2]) == ["与企业同城", "距企业现址 8.0 公里"]
    assert reasons[1] == []


def test_groups_are_separate_shortlists_and_one_item_lists_keep_raw_weights() -> None:
    X = _frame(["e__credit_score"], [[90], [70], [85]])
    contrib = np.array([[0.3], [0.1], [0.2]])
    reasons = top_reasons(contrib, X, vocab=VOCAB, groups=np.array([0, 0, 1]))
    assert reasons[0] == [{"feature": "e__credit_score", "text": "信用评分 90 分", "weight": 0.1}]
    assert reasons[1] == []
    assert reasons[2] == [{"feature": "e__credit_score", "text": "信用评分 85 分", "weight": 0.2}]


def test_never_coordinates_logarithms_or_model_internals() -> None:
    columns = [*sorted(NEVER), "e__log_revenue_10k_cny"]
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(1, 9, (4, len(columns))), columns=columns)
    contrib = np.tile(rng.uniform(0.5, 1.0, len(columns)), (4, 1)) * np.arange(1, 5)[:, None]
    reasons = top_reasons(contrib, X, vocab=VOCAB)
    chosen = {r["feature"] for rs in reasons for r in rs}
    assert chosen == {"e__log_revenue_10k_cny"}
    revenue = math.expm1(X["e__log_revenue_10k_cny"].iloc[3])
    assert reasons[3][0]["text"] == f"营收约 {revenue:,.0f} 万元"  # shown back in 万元
    assert NEVER.isdisjoint(REASON_FEATURES) and set(feature_names()) >= REASON_FEATURES


def test_a_text_on_every_item_is_dropped_and_the_next_reason_moves_up() -> None:
    columns = ["e__space_need_m2", "b__vacant_area_log_m2", "pair__space_need_log_ratio",
               "pair__space_need_fits", "e__credit_score"]  # fmt: skip
    v = math.log1p(2400)
    X = _frame(columns, [[800, v, -1.0, 0, 95], [800, v, -1.1, 0, 60], [800, v, -1.2, 1, 90]])
    # rows 0 and 1 rise on the ratio, row 2 on the fit flag: one phrase would be on all three
    contrib = np.array([[0, 0, 0.5, 0.0, 0.2], [0, 0, 0.5, 0.0, -0.1], [0, 0, -1.0, 0.6, 0.1]])
    reasons = top_reasons(contrib, X, vocab=VOCAB)
    assert all("需求约 800㎡，本楼空置 2,400㎡" not in _texts(r) for r in reasons)
    assert _texts(reasons[0]) == ["信用评分 95 分"] and _texts(reasons[2]) == ["信用评分 90 分"]


def test_a_courtship_that_ended_in_a_decline_is_no_reason_and_is_flagged() -> None:
    columns = ["pair__last_event_stage", "pair__days_since_last_event", "pair__prior_events",
               "e__events_12m", "e__credit_score"]  # fmt: skip
    X = _frame(columns, [[-1, 30, 2, 4, 80], [2, 10, 2, 3, 70], [np.nan, np.nan, np.nan, 0, 75]])
    contrib = np.array([[0.9, 0.8, 0.7, 0.6, 0.1], [0.5, 0.4, 0.7, 0.5, 0.0],
                        [-0.4, -0.3, -0.2, -0.1, 0.05]])  # fmt: skip
    reasons = top_reasons(contrib, X, vocab=VOCAB, declined_on=["2024-05-31", None, None])
    assert reasons[0][0] == {"feature": "pair__last_event_stage", "text": "已婉拒 (2024-05-31)",
                             "weight": 0.5667}  # 0.9 minus the mean 0.3333  # fmt: skip
    assert _texts(reasons[0]) == ["已婉拒 (2024-05-31)", "信用评分 80 分"]
    # an open courtship is a reason: +0.3 furthest stage, +0.17 latest, +0.17 contacts
    assert _texts(reasons[1]) == ["此前招商最远推进到：已考察", "最近一次招商进展：已考察",
                                  "近12个月 3 次招商接触（各楼宇）"]  # fmt: skip


def test_reason_text_decodes_categories_and_logs() -> None:
    row = {"b__theme": 1, "e__log_revenue_10k_cny": math.log1p(5000), "e__space_need_m2": 120,
           "b__vacant_area_log_m2": math.log1p(900), "e__division": 5, "e__hq_type": 0,
           "b__grade": 3, "e__area_growth_log": math.log(1.5), "e__months_to_cycle_end": -4,
           "b__lat": 37.8}  # fmt: skip
    assert reason_text(BY_NAME["b__theme"], row, vocab=VOCAB) == "楼宇主题：科技研发型"
    assert reason_text(BY_NAME["e__log_revenue_10k_cny"], row, vocab=VOCAB) == "营收约 5,000 万元"
    assert reason_text("e__space_need_m2", row, vocab=VOCAB) == "需求约 120㎡，本楼空置 900㎡"
    assert reason_text("e__division", row, vocab=VOCAB) == ""  # code 5 outside the vocabulary
    assert reason_text("e__hq_type", row, vocab=VOCAB) == ""  # "非总部" is nothing to point at
    assert reason_text("b__grade", row, vocab=VOCAB) == "楼宇等级：甲级"
    assert reason_text("e__area_growth_log", row, vocab=VOCAB) == "办公面积较上一处增长 50%"
    assert (
        reason_text("e__months_to_cycle_end", row, vocab=VOCAB)
        == "按上一租期推算租约约 4 个月前已到期"
    )
    assert reason_text("b__lat", row, vocab=VOCAB) == ""


def test_without_credit_drops_credit_reasons_and_risk_warnings_only() -> None:
    from tenantmatch.matching import without_credit

    credit = {"feature": "e__credit_score", "text": "信用评分 72 分", "weight": 0.3}
    flags = {"feature": "e__risk_flag_count", "text": "1 项风险标记", "weight": -0.2}
    other = {"feature": "pair__theme_fit", "text": "主题匹配", "weight": 0.1}
    result = {"query": {"building_id": "B1"}, "model_version": "v", "items": [
        {"rank": 1, "enterprise_id": "E1", "reasons": [credit, other, flags],
         "risk_warnings": ["失信被执行人"]},
        {"rank": 2, "enterprise_id": "E2", "reasons": [other]},
    ]}  # fmt: skip
    shown = without_credit(result)
    assert shown["items"] == [
        {"rank": 1, "enterprise_id": "E1", "reasons": [other]},
        {"rank": 2, "enterprise_id": "E2", "reasons": [other]},
    ]
    assert shown["query"] == result["query"] and result["items"][0]["reasons"][0] == credit
