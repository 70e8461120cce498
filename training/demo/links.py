"""Draw the links between enterprises: supply links along the industry linkage matrix, equity
links from large firms to smaller ones, and partnerships; mostly within the same city."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tenantmatch.training.demo import catalog as cat


def _sample_in_groups(
    rng: np.random.Generator, member_keys: np.ndarray, wanted_keys: np.ndarray
) -> np.ndarray:
    """For each wanted key, a random member index with that key, or -1 when the group is empty."""
    order = np.argsort(member_keys, kind="stable")
    sorted_keys = member_keys[order]
    lo = np.searchsorted(sorted_keys, wanted_keys, side="left")
    hi = np.searchsorted(sorted_keys, wanted_keys, side="right")
    size = hi - lo
    pick = lo + np.floor(rng.random(wanted_keys.size) * np.maximum(size, 1)).astype(np.int64)
    return np.where(size > 0, order[np.minimum(pick, order.size - 1)], -1)


def _targets(
    rng: np.random.Generator,
    *,
    div: np.ndarray,
    city: np.ndarray,
    target_div: np.ndarray,
    source_city: np.ndarray,
    same_city: float,
) -> np.ndarray:
    """Targets of the wanted divisions: in the source's city with probability ``same_city``
    (falling back to anywhere when that city has none), -1 when the division is empty."""
    n_city = int(city.max()) + 1
    local = rng.random(target_div.size) < same_city
    by_city = _sample_in_groups(rng, div * n_city + city, target_div * n_city + source_city)
    anywhere = _sample_in_groups(rng, div, target_div)
    return np.where(local & (by_city >= 0), by_city, anywhere)


def draw_links(
    rng: np.random.Generator,
    *,
    div: np.ndarray,
    city: np.ndarray,
    employees: np.ndarray,
    big: np.ndarray,
) -> pd.DataFrame:
    """Links as integer enterprise indices: columns source, target, relation, weight (0-1).
    No self-links and no duplicate (source, target, relation)."""
    n = div.size
    link = cat.linkage_matrix()
    cum = np.cumsum(link, axis=1)
    # supplies: ~1.1 per firm, target industry along the linkage row
    src = np.repeat(np.arange(n), rng.poisson(1.1, n))
    tdiv = (rng.random(src.size)[:, None] > cum[div[src]]).sum(axis=1).clip(0, link.shape[0] - 1)
    tgt = _targets(rng, div=div, city=city, target_div=tdiv, source_city=city[src], same_city=0.75)
    supplies = (src, tgt, "supplies", rng.beta(2.0, 5.0, src.size))
    # invests: large firms and headquarters hold stakes in smaller firms, often the same industry
    isrc = np.repeat(np.arange(n), rng.poisson(0.1 + 3.0 * big**2))
    idiv = np.where(
        rng.random(isrc.size) < 0.5, div[isrc], rng.integers(0, link.shape[0], isrc.size)
    )
    itgt = _targets(rng, div=div, city=city, target_div=idiv, source_city=city[isrc], same_city=0.6)
    itgt = np.where(employees[np.maximum(itgt, 0)] < employees[isrc], itgt, -1)
    invests = (isrc, itgt, "invests", rng.uniform(0.05, 1.0, isrc.size))
    # partners: same industry or a linked one, same city mostly
    psrc = np.repeat(np.arange(n), rng.poisson(0.4, n))
    pdiv = np.where(
        rng.random(psrc.size) < 0.5,
        div[psrc],
        (rng.random(psrc.size)[:, None] > cum[div[psrc]]).sum(axis=1).clip(0, link.shape[0] - 1),
    )
    ptgt = _targets(
        rng, div=div, city=city, target_div=pdiv, source_city=city[psrc], same_city=0.85
    )
    partners = (psrc, ptgt, "partners", rng.beta(2.0, 3.0, psrc.size))
    frames = [
        pd.DataFrame({"source": s, "target": t, "relation": r, "weight": np.round(w, 3)})
        for s, t, r, w in (supplies, invests, partners)
    ]
    out = pd.concat(frames, ignore_index=True)
    out = out[(out["target"] >= 0) & (out["source"] != out["target"])]
    out["weight"] = out["weight"].clip(0.01, 1.0)
    return out.drop_duplicates(["source", "target", "relation"]).reset_index(drop=True)
