"""Reasons: the top positive contributions as Chinese phrases with their numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tenantmatch.features import FEATURES, Vocabulary
from tenantmatch.matching.reasons import reason_text, top_reasons

BY_NAME = {f.name: f for f in FEATURES}
VOCAB = Vocabulary(theme=("finance", "tech_rnd"), section=("I", "J"), division=("65", "66"),
                   hq_type=("none", "regional_hq"))  # fmt: skip
COLUMNS = [
    "pair__chain_partners_in_building", "e__space_need_m2", "b__vacant_area_log_m2",
    "pair__space_need_log_ratio", "pair__same_city", "b__theme", "e__division",
    "e__log_revenue_10k_cny",
]  # fmt: skip


def _frame(rows: list[list[float]]) -> pd.DataFrame:
    return pd.DataFrame(np.array(rows, dtype=np.float32), columns=COLUMNS)


def test_top_three_positive_reasons_strongest_first() -> None:
    X = _frame([[3, 800, math.log1p(2400), -1.1, 1, 1, 0, math.log1p(5000)]])
    contrib = np.array([[0.21, 0.05, -0.3, 0.40, 0.10, 0.02, 0.01, 0.0, 1.5]])  # last: bias
    [reasons] = top_reasons(contrib, X, vocab=VOCAB, features=FEATURES)
    assert reasons == [
        {"feature": "pair__space_need_log_ratio", "text": "需求约 800㎡，本楼空置 2,400㎡",
         "weight": 0.4},
        {"feature": "pair__chain_partners_in_building", "text": "3 家上下游伙伴已入驻本楼",
         "weight": 0.21},
        {"feature": "pair__same_city", "text": "与企业同城", "weight": 0.1},
    ]  # fmt: skip


def test_missing_and_zero_values_are_skipped() -> None:
    X = _frame([[0, np.nan, math.log1p(100), np.nan, 0, np.nan, 1, np.nan]])
    contrib = np.array([[0.9, 0.8, 0.0, 0.7, 0.6, 0.5, 0.3, 0.2, 0.0]])
    [reasons] = top_reasons(contrib, X, vocab=VOCAB, features=FEATURES)
    # zero partners, missing need, zero same-city flag, missing theme: only the division is left
    assert reasons == [{"feature": "e__division", "text": "行业大类：66 货币金融服务",
                        "weight": 0.3}]  # fmt: skip
    none = top_reasons(-np.abs(contrib), X, vocab=VOCAB, features=FEATURES)
    assert none == [[]]  # no positive contribution, no reason


def test_reason_text_decodes_categories_and_logs() -> None:
    row = dict(zip(COLUMNS, [1, 120, 5.0, 0.0, 1, 1, 5, math.log1p(5000)], strict=True))
    assert reason_text(BY_NAME["b__theme"], row, vocab=VOCAB) == "楼宇主题：科技研发型"
    assert reason_text(BY_NAME["e__log_revenue_10k_cny"], row, vocab=VOCAB) == "营收约 5,000 万元"
    assert reason_text(BY_NAME["e__space_need_m2"], row, vocab=VOCAB) == "预计需求面积 120 平方米"
    assert reason_text(BY_NAME["e__division"], row, vocab=VOCAB) == ""  # code 5 outside vocab
