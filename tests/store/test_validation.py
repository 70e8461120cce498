"""Validation of one table (``store.validation``) at the size of a province registry."""

from __future__ import annotations

import pandas as pd
import pytest

from tenantmatch.store.validation import validate_table


@pytest.mark.slow
def test_a_million_enterprises_validate_and_the_one_bad_cell_is_named() -> None:
    n = 1_000_000
    ids = pd.Series(range(n)).map("E{:07d}".format)
    frame = pd.DataFrame(
        {
            "enterprise_id": ids,
            "name": "晋阳科技有限公司",
            "employees": (ids.index % 900).astype(str),
            "industry_code": pd.Series(["J66", "6513", "54", "I65"] * (n // 4)),
            "founded": pd.Series(["2010-05-01", "2015", "2020/3/4", "2019年7月8日"] * (n // 4)),
            "tags": pd.Series(["listed;high_tech", "", "unicorn", "platform"] * (n // 4)),
            "revenue_10k_cny": "1234.5",
            "lat": "37.8",
            "lon": "112.5",
            "hq_type": "none",
        }
    )
    frame.loc[n - 1, "founded"] = "2023-02-30"
    result = validate_table("enterprises", frame, file="enterprises.csv")
    cells = [(e.file, e.row, e.column) for e in result.errors]
    assert cells == [("enterprises.csv", n + 1, "founded")]
    assert len(result.frame) == n - 1
