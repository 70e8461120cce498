"""Reference data shipped inside the package (``tenantmatch.data``, the repository's ``data/``
folder): GB/T 4754-2017 divisions, Shanxi's districts, the policy themes and the theme-industry
prior. Read with ``importlib.resources``, so a wheel install finds them too.

Files are read on first use and cached; every loader returns a fresh copy, so callers may modify
what they get. Codes (divisions, adcodes, themes) are ``str``; missing values are NaN.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

import numpy as np
import pandas as pd

from tenantmatch.registry.errors import InputError, ReferenceDataError

logger = logging.getLogger(__name__)

REFERENCE_PACKAGE: Final[str] = "tenantmatch.data"

# file -> {column: dtype}; every column listed must be present.
_FILES: Final[dict[str, dict[str, str]]] = {
    "gbt4754_2017_divisions.csv": {
        "section": "str",
        "section_name_zh": "str",
        "division": "str",
        "name_zh": "str",
    },
    "shanxi_districts.csv": {
        "city_adcode": "str",
        "city": "str",
        "city_lat": "float64",
        "city_lon": "float64",
        "district_adcode": "str",
        "district": "str",
        "lat": "float64",
        "lon": "float64",
        "coord_source": "str",
    },
    "themes.csv": {"theme": "str", "name_zh": "str", "description_zh": "str"},
    "theme_industry_prior.csv": {"theme": "str", "division": "str", "weight": "float64"},
}

# An optional section letter, then 2-4 ASCII digits (division, group or class).
_CODE_PATTERN: Final[re.Pattern[str]] = re.compile(r"([A-Z]?)([0-9]{2,4})")


def reference_location() -> Traversable:
    """Where the packaged reference files are (a folder of the installed package)."""
    return resources.files(REFERENCE_PACKAGE)


@functools.cache
def _read(name: str) -> pd.DataFrame:
    """One reference CSV with the columns and dtypes of ``_FILES[name]``, in file order."""
    path = reference_location() / name
    dtypes = _FILES[name]
    if not path.is_file():
        raise ReferenceDataError(
            f"reference file {path} is missing; expected one of {sorted(_FILES)}"
        )
    with path.open("rb") as handle:
        frame = pd.read_csv(
            handle, dtype=dtypes, encoding="utf-8", keep_default_na=False, na_values=[""]
        )
    absent = sorted(set(dtypes) - set(frame.columns))
    if absent:
        raise ReferenceDataError(
            f"reference file {path} lacks column(s) {absent}; needs {list(dtypes)}"
        )
    logger.debug("read %d rows from %s", len(frame), path)
    return frame[list(dtypes)]


def industry_divisions() -> pd.DataFrame:
    """The 97 GB/T 4754-2017 divisions: ``section`` (A-T), ``section_name_zh``, ``division``
    ("01"-"97"), ``name_zh``; one row per division, in code order."""
    return _read("gbt4754_2017_divisions.csv").copy()


def shanxi_districts() -> pd.DataFrame:
    """Shanxi's county-level units with their prefecture city: adcodes (6 digits), names,
    ``city_lat``/``city_lon`` and ``lat``/``lon`` in degrees, ``coord_source``; one row each."""
    return _read("shanxi_districts.csv").copy()


def themes() -> pd.DataFrame:
    """The 10 specialty themes of the contract: ``theme`` code, ``name_zh``, ``description_zh``."""
    return _read("themes.csv").copy()


def theme_industry_prior() -> pd.DataFrame:
    """Cold-start prior of how well each division suits each theme: ``theme``, ``division``,
    ``weight`` in (0, 1] (1 = core industry); a (theme, division) pair not listed means 0."""
    return _read("theme_industry_prior.csv").copy()


@functools.cache
def _section_by_division() -> dict[str, str]:
    frame = _read("gbt4754_2017_divisions.csv")
    return dict(zip(frame["division"], frame["section"], strict=True))


def normalize_industry_code(code: str) -> str | None:
    """The digits of a GB/T 4754-2017 code ("J6621" -> "6621", " 66 " -> "66"); None when it is
    not a string of an optional section letter (matching the division) and 2-4 digits of a
    known division. Full-width characters and lower-case letters are accepted."""
    if not isinstance(code, str):
        return None
    match = _CODE_PATTERN.fullmatch(unicodedata.normalize("NFKC", code).strip().upper())
    if match is None:
        return None
    letter, digits = match.groups()
    section = _section_by_division().get(digits[:2])
    if section is None or letter not in ("", section):
        return None
    return digits


def normalize_industry_codes(codes: pd.Series) -> pd.Series:
    """``normalize_industry_code`` over a Series of strings: a ``str`` Series aligned to
    ``codes``, NaN where missing or invalid. Numbers are refused (they lost leading zeros); an
    all-missing numeric Series gives all NaN."""
    if pd.api.types.is_numeric_dtype(codes.dtype) and codes.notna().any():
        raise InputError(
            f"industry codes must be strings, got dtype {codes.dtype} (a number drops leading "
            f"zeros: '0111' would read as 111); read the column as str"
        )
    positions, uniques = pd.factorize(codes, use_na_sentinel=True)
    # Codes repeat heavily, so normalise each distinct value once; the extra slot serves -1 (NA).
    normalised = [normalize_industry_code(u) for u in uniques]
    lookup = np.array([*normalised, None], dtype=object)
    return pd.Series(lookup[positions], index=codes.index, dtype="str", name=codes.name)


def division_of(code: str) -> str:
    """The 2-digit division of a GB/T 4754-2017 code ("J6621" -> "66"); raises InputError on an
    invalid code."""
    digits = normalize_industry_code(code)
    if digits is None:
        raise InputError(
            f"industry code {code!r} is not a GB/T 4754-2017 code; allowed: an optional section "
            f"letter A-T matching the division, then 2-4 digits starting with a division 01-97"
        )
    return digits[:2]


def divisions_of(codes: pd.Series) -> pd.Series:
    """2-digit divisions of a Series of codes (``str``, aligned to ``codes``), NaN when invalid."""
    return normalize_industry_codes(codes).str.slice(0, 2)


def section_of_division(division: str) -> str:
    """Section letter (A-T) of a 2-digit division code ("66" -> "J"); raises on an unknown one."""
    section = _section_by_division().get(division) if isinstance(division, str) else None
    if section is None:
        raise InputError(
            f"division {division!r} is not a GB/T 4754-2017 division; allowed: 2-digit strings "
            f"'01'-'97'"
        )
    return section
