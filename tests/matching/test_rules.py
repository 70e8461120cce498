"""Business rules: risk bitmasks, eligibility, the space-fit rule and risk warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tenantmatch.matching.rules import (
    RISK_FLAGS,
    eligible_by_risk,
    flags_bits,
    list_bitmask,
    risk_warnings,
    space_fits,
)


def test_list_bitmask_sets_one_bit_per_code_and_ignores_prefixes() -> None:
    cells = pd.Series(["tax_violation", None, "deregistered;dishonest_debtor", ""], dtype="str")
    bits = list_bitmask(cells, codes=RISK_FLAGS)
    assert bits[0] == flags_bits({"tax_violation"})
    assert bits[1] == 0 and bits[3] == 0
    assert bits[2] == flags_bits({"deregistered", "dishonest_debtor"})
    partial = list_bitmask(pd.Series(["tax"], dtype="str"), codes=("tax", "tax_violation"))
    assert partial[0] == 1  # "tax" is not mistaken for "tax_violation" nor vice versa


def test_risky_excluded_unless_asked_but_deregistered_always() -> None:
    bits = np.array(
        [0, flags_bits({"tax_violation"}), flags_bits({"deregistered", "tax_violation"})],
        dtype=np.uint32,
    )
    assert eligible_by_risk(bits, include_risky=False).tolist() == [True, False, False]
    assert eligible_by_risk(bits, include_risky=True).tolist() == [True, True, False]


def test_space_fit_rule() -> None:
    need = np.array([200.0, 1200.0, 50.0, 100.0, np.nan, 300.0])
    fits = space_fits(
        need, vacant_m2=1000.0, min_unit_m2=np.array([100, 100, 150, 200, 100, np.nan])
    )
    # fits; too big; 150 m2 unit <= 2 x 50 would be 100 -> no; 200 <= 2 x 100 -> yes;
    # unknown need does not exclude; no min unit -> any size
    assert fits.tolist() == [True, False, False, True, True, True]
    # the taken unit must itself fit the vacancy
    assert space_fits(np.array([300.0]), vacant_m2=500.0, min_unit_m2=600.0).tolist() == [False]
    assert space_fits(np.array([300.0]), vacant_m2=np.nan, min_unit_m2=np.nan).tolist() == [True]


def test_risk_warnings_text() -> None:
    warnings = risk_warnings("dishonest_debtor;tax_violation", credit_score=52.4)
    assert warnings == [
        "风险预警：失信被执行人",
        "风险预警：税收违法",
        "信用评分 52 分，低于 60 分",
    ]
    assert risk_warnings(None, credit_score=60.0) == []
    assert risk_warnings(None, credit_score=float("nan")) == []
