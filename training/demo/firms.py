"""Draw the enterprises of a demo world (observable attributes and hidden latent variables) and
the links between them. Vectorised over enterprises."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tenantmatch.registry import MissingExtraError
from tenantmatch.training.demo import catalog as cat
from tenantmatch.training.demo.params import WorldParams
from tenantmatch.training.demo.population import jitter, pick_districts

NEVER = 10**6  # month index meaning "does not happen"


def draw_enterprises(
    rng: np.random.Generator, params: WorldParams, districts: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(enterprises, latent): the enterprises table without its location columns, and per
    enterprise hidden variables (division index, home place, growth, tastes, lease length ...)."""
    n = params.enterprises
    weights = np.array([v[1] for v in cat.DIVISIONS.values()])
    div = rng.choice(len(cat.DIVISION_CODES), size=n, p=weights / weights.sum())
    codes = np.array(cat.DIVISION_CODES)[div]
    heavy = np.isin(codes, ["06", "39", "44", "48", "66"])
    employees = np.clip(np.round(rng.lognormal(np.log(np.where(heavy, 60, 12)), 1.3)), 1, 30_000)
    big = np.clip((np.log10(employees) - 1.3) / 1.7, 0.0, 1.0)
    rev_per_emp = np.array([v[3] for v in cat.DIVISIONS.values()])[div]
    revenue = employees * rev_per_emp * rng.lognormal(0.0, 0.6, n)
    capital = np.maximum(revenue * rng.lognormal(-0.5, 0.9, n), 10.0)
    rows, _ = pick_districts(rng, districts, n)
    place = districts.iloc[rows].reset_index(drop=True)
    home_lat, home_lon = jitter(
        rng, place["lat"].to_numpy(float), place["lon"].to_numpy(float), 3.0
    )
    founded = _founded(rng, params, n)
    risk, dereg_month, credit = _risk(rng, params, n)
    enterprises = pd.DataFrame(
        {
            "enterprise_id": _uscc(rng, place["city"].to_numpy()),
            "name": _company_names(rng, place["city"].to_numpy(), codes),
            "industry_code": _industry_codes(rng, codes),
            "employees": employees.astype(np.int64),
            "revenue_10k_cny": np.where(rng.random(n) < 0.03, np.nan, np.round(revenue, 1)),
            "registered_capital_10k_cny": np.where(
                rng.random(n) < 0.05, np.nan, np.round(capital, 1)
            ),
            "founded": founded,
            "hq_type": _hq_types(rng, big),
            "tags": _tags(rng, big, codes, employees),
            "credit_score": credit,
            "risk_flags": risk,
        }
    )
    latent = _latent(rng, params, div=div, place=place, home=(home_lat, home_lon), founded=founded)
    latent["dereg_month"] = dereg_month
    latent["revenue_true"] = revenue
    latent["enterprise_id"] = enterprises["enterprise_id"].to_numpy()
    return enterprises, latent


def _latent(
    rng: np.random.Generator,
    params: WorldParams,
    *,
    div: np.ndarray,
    place: pd.DataFrame,
    home: tuple[np.ndarray, np.ndarray],
    founded: pd.Series,
) -> pd.DataFrame:
    """Hidden per-enterprise variables; months are counted from the start month (0)."""
    n = div.size
    lo, hi = params.rates.lease_months
    start = pd.Timestamp(params.start)
    founded_month = (founded.dt.year - start.year) * 12 + (founded.dt.month - start.month)
    taste = rng.normal(0.0, params.weights.taste_sd, (n, 3))
    return pd.DataFrame(
        {
            "division_idx": div.astype(np.int64),
            "home_city": place["city"].to_numpy(),
            "home_district": place["district"].to_numpy(),
            "home_lat": home[0],
            "home_lon": home[1],
            "m2_per_employee": rng.uniform(8.0, 15.0, n),
            "growth_per_year": rng.normal(0.04, params.rates.growth_sd, n),
            "mobility": rng.lognormal(0.0, 0.5, n),
            "office_prone": rng.lognormal(0.0, 0.7, n),
            "taste_quality": taste[:, 0],
            "taste_newness": taste[:, 1],
            "taste_centrality": taste[:, 2],
            "lease_months": rng.integers(lo, hi + 1, n),
            "founded_month": founded_month.to_numpy(np.int64),
        }
    )


def _founded(rng: np.random.Generator, params: WorldParams, n: int) -> pd.Series:
    """Founding dates: age at the end date ~ exponential (mean 9 years), not before 1980."""
    end = pd.Timestamp(params.end)
    age_days = np.round(rng.exponential(9.0 * 365.25, n) + 60).astype(np.int64)
    earliest = np.datetime64("1980-01-01", "D")
    founded = np.maximum(
        np.datetime64(end.date(), "D") - age_days.astype("timedelta64[D]"), earliest
    )
    return pd.Series(founded).astype("datetime64[ns]")


def join_flags(has: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Object array of ';'-joined ``names`` (sorted) where ``has`` (n, len(names)) is true; None
    where a row has none. Vectorised: each distinct combination is joined once."""
    mask = has.astype(np.int64) @ (1 << np.arange(len(names), dtype=np.int64))
    combos, inverse = np.unique(mask, return_inverse=True)
    texts = [
        ";".join(sorted(nm for k, nm in enumerate(names) if c >> k & 1)) or None for c in combos
    ]
    return np.array(texts, dtype=object)[inverse]


def _risk(
    rng: np.random.Generator, params: WorldParams, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(risk_flags, deregistration month or NEVER, credit_score): ~4 % flagged, ~0.6 % gone."""
    flagged = rng.random(n) < 0.04
    dereg = rng.random(n) < 0.006
    names = (*cat.RISK_FLAGS, "deregistered")
    has = np.zeros((n, len(names)), dtype=bool)
    rows = np.arange(n)
    has[rows, rng.integers(0, len(cat.RISK_FLAGS), n)] |= flagged
    has[rows, rng.integers(0, len(cat.RISK_FLAGS), n)] |= flagged & (rng.random(n) < 0.25)
    has[:, -1] = dereg
    dereg_month = np.where(dereg, rng.integers(1, params.n_months, n), NEVER)
    credit = np.clip(rng.normal(80.0, 8.0, n) - 25.0 * flagged - 30.0 * dereg, 5.0, 100.0)
    return join_flags(has, names), dereg_month, np.round(credit, 1)


def _uscc(rng: np.random.Generator, city: np.ndarray) -> np.ndarray:
    """Unique 18-character unified social credit codes: '91' + city adcode + 9 random + the
    GB 32100-2015 check character."""
    n = city.size
    cities = list(cat.CITY_ADCODE)
    city_idx = pd.Categorical(city, categories=cities).codes.astype(np.int64)
    value = {ch: i for i, ch in enumerate(cat.USCC_ALPHABET)}
    heads = np.array([[value[ch] for ch in "91" + cat.CITY_ADCODE[c]] for c in cities])
    body = rng.integers(0, 31, (n, 9))
    powers = 31 ** np.arange(9, dtype=np.int64)
    while True:
        key = city_idx * 31**9 + body @ powers
        _, first = np.unique(key, return_index=True)
        dup = np.setdiff1d(np.arange(n), first)
        if dup.size == 0:
            break
        body[dup] = rng.integers(0, 31, (dup.size, 9))
    digits = np.concatenate([heads[city_idx], body], axis=1)
    check = (31 - (digits @ cat.USCC_WEIGHTS) % 31) % 31
    chars = np.array(list(cat.USCC_ALPHABET))[np.concatenate([digits, check[:, None]], axis=1)]
    return np.ascontiguousarray(chars).view("<U18").ravel().astype(object)


def company_prefixes() -> list[str]:
    """Faker's zh_CN company-name prefixes, sorted; MissingExtraError without the demo extra."""
    try:
        from faker.providers.company.zh_CN import Provider
    except ImportError as exc:
        raise MissingExtraError("the demo world", module="faker", extra="demo") from exc
    return sorted(set(Provider.company_prefixes))


def _company_names(rng: np.random.Generator, city: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """'{city}{Faker zh_CN prefix or two auspicious characters}{industry word}[集团]有限公司'."""
    n = city.size
    prefixes = np.array(company_prefixes())
    tokens = np.array(cat.NAME_TOKENS)
    faker_part = prefixes[rng.integers(0, prefixes.size, n)]
    token_part = np.char.add(
        tokens[rng.integers(0, tokens.size, n)], tokens[rng.integers(0, tokens.size, n)]
    )
    middle = np.where(rng.random(n) < 0.5, faker_part, token_part)
    words = np.array([cat.DIVISIONS[d][2] for d in cat.DIVISION_CODES])
    word = words[pd.Categorical(codes, categories=list(cat.DIVISION_CODES)).codes]
    group = np.where(rng.random(n) < 0.04, "集团有限公司", "有限公司")
    short = np.array([c[:-1] for c in cat.CITY_SHARES])
    city_short = short[pd.Categorical(city, categories=list(cat.CITY_SHARES)).codes]
    name = np.char.add(np.char.add(np.char.add(city_short, middle), word), group)
    return name.astype(object)


def _industry_codes(rng: np.random.Generator, codes: np.ndarray) -> np.ndarray:
    """Division codes written as '65' (50 %), a class '6513' (30 %) or with the section 'I65'."""
    n = codes.size
    sections = np.array([cat.DIVISIONS[d][0] for d in cat.DIVISION_CODES])
    section = sections[pd.Categorical(codes, categories=list(cat.DIVISION_CODES)).codes]
    fine = np.char.add(
        np.char.add(codes.astype(str), rng.integers(1, 4, n).astype(str)),
        rng.integers(0, 3, n).astype(str),
    )
    u = rng.random(n)
    return np.where(
        u < 0.5, codes, np.where(u < 0.8, fine, np.char.add(section, codes.astype(str)))
    )


def _hq_types(rng: np.random.Generator, big: np.ndarray) -> np.ndarray:
    """'none' mostly; larger firms are more often some kind of headquarters."""
    n = big.size
    is_hq = rng.random(n) < 0.015 + 0.3 * big
    kinds = np.array(cat.HQ_TYPES)[rng.integers(0, len(cat.HQ_TYPES), n)]
    return np.where(is_hq, kinds, "none")


def _tags(
    rng: np.random.Generator, big: np.ndarray, codes: np.ndarray, employees: np.ndarray
) -> np.ndarray:
    """';'-joined sorted tags or None; probabilities rise with size, tech tags in tech divisions."""
    n = big.size
    tech = np.isin(codes, list(cat.TECH_DIVISIONS))
    probs = {
        "china_500": 0.02 * big**2,
        "fortune_global_500": 0.006 * big**2,
        "high_tech": np.where(tech, 0.2, 0.02),
        "leading_enterprise": 0.002 + 0.05 * big,
        "listed": 0.004 + 0.12 * big**2,
        "platform": np.where(tech, 0.006, 0.001),
        "specialized_sme": np.where(tech & (employees >= 20) & (employees <= 500), 0.08, 0.005),
        "unicorn": np.where(tech & (employees >= 100), 0.003, 0.0),
    }
    has = np.column_stack([rng.random(n) < p for p in probs.values()])
    return join_flags(has, tuple(probs))
