"""A hand-made world of 3 buildings and 5 enterprises for the feature tests.

Story: E1 and E2 rent in B1; E2 left B2 in May 2022; E3 moves into B2 on 2023-03-01 (after T,
before T2; B3 visited it in December 2022, a courtship still open at T). E4 is courted: E3
supplies it, E1 invests in it, E2 partners with it; E1 supplies E2. E5 and B3 have every
optional field missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tenantmatch.registry import Registry

T = pd.Timestamp("2023-01-01")
T2 = pd.Timestamp("2023-06-30")
NA = np.nan


def tables() -> dict[str, pd.DataFrame]:
    """The world's canonical tables (before Registry.from_tables)."""
    buildings = pd.DataFrame(
        {
            "building_id": ["B1", "B2", "B3"],
            "name": ["金融大厦", "科创中心", "平城综合楼"],
            "city": ["太原市", "太原市", "大同市"],
            "district": ["小店区", "迎泽区", "平城区"],
            "lat": [37.74, 37.86, NA],
            "lon": [112.56, 112.56, NA],
            "theme": ["finance", "tech_rnd", "general"],
            "grade": ["a", "super_a", None],
            "total_area_m2": [10000.0, 5000.0, 2000.0],
            "vacant_area_m2": [2000.0, 1000.0, 2000.0],
            "min_unit_m2": [100.0, 500.0, NA],
            "rent_cny_m2_day": [3.0, 5.0, NA],
            "completed_year": pd.array([2010, 2020, None], dtype="Int64"),
            "smart_5a": pd.array([4, 5, None], dtype="Int64"),
            "amenities": ["gym;metro;parking", "catering", None],
        }
    )
    enterprises = pd.DataFrame(
        {
            "enterprise_id": ["E1", "E2", "E3", "E4", "E5"],
            "name": ["甲银行", "乙软件", "丙保险", "丁地产", "戊公司"],
            "industry_code": ["6621", "6520", "6630", "7240", "9999"],
            "employees": pd.array([99, 49, 9, 19, None], dtype="Int64"),
            "revenue_10k_cny": [1000.0, 200.0, NA, 50.0, NA],
            "registered_capital_10k_cny": [500.0, NA, NA, NA, NA],
            "founded": pd.to_datetime(["2015-01-01", "2010-07-02", None, "2020-01-01", None]),
            "city": ["太原市", "太原市", "太原市", "太原市", None],
            "district": ["小店区", "迎泽区", "迎泽区", None, None],
            "lat": [37.74, NA, NA, NA, NA],
            "lon": [112.56, NA, NA, NA, NA],
            "hq_type": ["regional_hq", "none", None, "none", None],
            "tags": ["high_tech;listed", None, "unicorn", "platform", None],
            "credit_score": [90.0, 70.0, NA, 55.0, NA],
            "risk_flags": [None, "tax_violation", None, None, None],
        }
    )
    links = pd.DataFrame(
        {
            "source_id": ["E3", "E1", "E2", "E1"],
            "target_id": ["E4", "E4", "E4", "E2"],
            "relation": ["supplies", "invests", "partners", "supplies"],
            "weight": [0.8, NA, 0.5, 0.3],
        }
    )
    tenancies = pd.DataFrame(
        {
            "enterprise_id": ["E1", "E2", "E2", "E3"],
            "building_id": ["B1", "B2", "B1", "B2"],
            "area_m2": [1000.0, 250.0, 500.0, 300.0],
            "start_date": pd.to_datetime(["2020-01-01", "2018-01-01", "2022-06-01", "2023-03-01"]),
            "end_date": pd.to_datetime([None, "2022-05-31", None, None]),
        }
    )
    events = pd.DataFrame(
        {
            "enterprise_id": ["E4", "E4", "E4", "E2", "E1", "E3"],
            "building_id": ["B2", "B2", "B1", "B2", "B3", "B3"],
            "date": pd.to_datetime(
                ["2022-03-10", "2022-04-01", "2022-12-15", "2024-01-01", "2021-06-01", "2022-12-20"]
            ),
            "stage": ["contacted", "visited", "declined", "signed", "contacted", "visited"],
        }
    )
    return {
        "buildings": buildings,
        "enterprises": enterprises,
        "links": links,
        "tenancies": tenancies,
        "events": events,
    }


def registry() -> Registry:
    """The world as a Registry."""
    return Registry.from_tables(tables())


def prior() -> pd.DataFrame:
    """A tiny theme-industry prior: finance suits 66 fully and 65 a little; tech_rnd suits 65."""
    return pd.DataFrame(
        {
            "theme": ["finance", "finance", "tech_rnd"],
            "division": ["66", "65", "65"],
            "weight": [1.0, 0.5, 1.0],
        }
    )


def all_pairs() -> pd.DataFrame:
    """Every (building, enterprise) pair, with a non-default string index."""
    pairs = pd.DataFrame(
        [(b, e) for b in ("B1", "B2", "B3") for e in ("E1", "E2", "E3", "E4", "E5")],
        columns=["building_id", "enterprise_id"],
    )
    return pairs.set_axis([f"row{i}" for i in range(len(pairs))][::-1])
