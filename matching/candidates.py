"""Candidate generation: which (building, enterprise) pairs a shortlist may rank at all.

A :class:`CandidatePool` holds numpy arrays of every enterprise and building of one snapshot
(space need, location and industry codes, tag and risk bitmasks, current tenancies), built once;
each query is then a few vectorised operations over those arrays, no per-row Python.
The business rules themselves (risk, space fit) live in :mod:`matching.rules`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tenantmatch.features import Vocabulary, context_for
from tenantmatch.matching.rules import (
    MIN_UNIT_OVERSIZE_FACTOR,
    RISK_FLAGS,
    eligible_by_risk,
    flags_bits,
    list_bitmask,
    space_fits,
)
from tenantmatch.registry import HqType, InputError, NotFoundError, Snapshot, Tag

logger = logging.getLogger(__name__)

_EMPTY = np.empty(0, dtype=np.int64)
MASK_CACHE_SIZE = 8
TAGS: tuple[str, ...] = tuple(t.value for t in Tag)
HQ_TYPES: frozenset[str] = frozenset(h.value for h in HqType)
_SET_FIELDS = (
    "cities", "districts", "industry_sections", "industry_divisions", "hq_types", "tags",
    "exclude_ids",
)  # fmt: skip


@dataclass(frozen=True)
class PoolRules:
    """Which pairs may be shortlisted. Empty sets mean "no filter"; areas in m².

    ``cities``/``districts``/``exclude_ids`` filter the candidate side (enterprises for a building
    query, buildings for an enterprise query); industry, need, ``hq_types`` and ``tags`` (any of)
    filter enterprises on both kinds of query (an enterprise failing them gets no buildings).
    An enterprise with unknown need fails a given ``min_need_m2``/``max_need_m2`` bound.
    """

    include_risky: bool = False
    cities: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()
    industry_sections: frozenset[str] = frozenset()
    industry_divisions: frozenset[str] = frozenset()
    min_need_m2: float | None = None
    max_need_m2: float | None = None
    hq_types: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    exclude_ids: frozenset[str] = frozenset()
    require_space_fit: bool = True

    def __post_init__(self) -> None:
        for name in _SET_FIELDS:
            object.__setattr__(self, name, _as_set(getattr(self, name), field=name))
        _check_subset(self.hq_types, allowed=HQ_TYPES, field="hq_types")
        _check_subset(self.tags, allowed=frozenset(TAGS), field="tags")
        bad = sorted(s for s in self.industry_sections if len(s) != 1 or not "A" <= s <= "T")
        if bad:
            raise InputError(f"industry_sections {bad} invalid; allowed: letters A-T")
        bad = sorted(d for d in self.industry_divisions if len(d) != 2 or not d.isdigit())
        if bad:
            raise InputError(f"industry_divisions {bad} invalid; allowed: 2-digit codes '01'-'97'")
        self._check_need_bounds()

    def _check_need_bounds(self) -> None:
        low, high = self.min_need_m2, self.max_need_m2
        for name, value in (("min_need_m2", low), ("max_need_m2", high)):
            if value is not None and not (value >= 0 and np.isfinite(value)):
                raise InputError(f"{name}={value!r} invalid; allowed: a finite number >= 0")
        if low is not None and high is not None and low > high:
            raise InputError(f"min_need_m2={low} is above max_need_m2={high}; allowed: min <= max")


def _as_set(values: Iterable[str] | None, *, field: str) -> frozenset[str]:
    if values is None:
        return frozenset()
    if isinstance(values, str):
        raise InputError(f"{field}={values!r} must be a collection of strings, not one string")
    return frozenset(str(v) for v in values)


def _check_subset(values: frozenset[str], *, allowed: frozenset[str], field: str) -> None:
    bad = sorted(values - allowed)
    if bad:
        raise InputError(f"{field} {bad} invalid; allowed: {sorted(allowed)}")


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """int32 codes (missing -> -1) and the categories they index."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int32), pd.Index(uniques)


def _objects(values: pd.Series) -> np.ndarray:
    """object array (n,) of the values, None where missing."""
    return np.array([None if pd.isna(v) else v for v in values], dtype=object)


def _in_sorted(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Boolean per value: is it one of ``members`` (ascending, not empty)? ``np.isin`` by a
    binary search: isin sorts or hashes both arrays on every call (0.15 ms a query check)."""
    at = np.minimum(np.searchsorted(members, values), len(members) - 1)
    return members[at] == values


def _groups(keys: np.ndarray, values: np.ndarray) -> dict[int, np.ndarray]:
    """``{key: sorted values}`` for parallel int arrays."""
    if len(keys) == 0:
        return {}
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return {int(keys[s]): v for s, v in zip(starts, np.split(values, starts[1:]), strict=True)}


@dataclass(frozen=True)
class _Side:
    """One entity table as arrays: ids, names, categorical codes with their categories."""

    ids: pd.Index
    names: np.ndarray  # object (n,), None where missing
    codes: dict[str, np.ndarray]
    categories: dict[str, pd.Index]

    @classmethod
    def of(cls, frame: pd.DataFrame, *, columns: Sequence[str]) -> _Side:
        codes, categories = {}, {}
        for column in columns:
            codes[column], categories[column] = _codes(frame[column])
        names = _objects(frame["name"])
        # One contiguous pyarrow array: a shortlist takes its items' ids by position, and
        # pyarrow joins the chunks of a chunked array on every take (2 ms at 1M enterprises).
        ids = pd.Index(frame.index.astype("str").to_numpy(), dtype="str")
        return cls(ids, names, codes, categories)

    def isin(self, column: str, wanted: frozenset[str]) -> np.ndarray:
        """Boolean mask (n,) of rows whose ``column`` is one of ``wanted``; all True if empty."""
        if not wanted:
            return np.ones(len(self.ids), dtype=bool)
        targets = self.categories[column].get_indexer(pd.Index(sorted(wanted)))
        return np.isin(self.codes[column], targets[targets >= 0])

    def positions(self, ids: Sequence[str], *, kind: str) -> np.ndarray:
        """int64 positions of ``ids``; NotFoundError naming the unknown ones."""
        ids = [str(i) for i in ids]
        found = self.ids.get_indexer(pd.Index(ids))
        missing = [i for i, pos in zip(ids, found, strict=True) if pos < 0]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:10])
            raise NotFoundError(
                f"unknown {kind} id(s) {shown}; the registry holds {len(self.ids)} {kind}s "
                "as of the snapshot date"
            )
        return found.astype(np.int64)


@dataclass(frozen=True)
class Pairs:
    """Candidate pairs as parallel int64 arrays: the query each belongs to (its position in the
    query list), building and enterprise positions in the pool. Grouped by query, in order."""

    query: np.ndarray
    building: np.ndarray
    enterprise: np.ndarray

    @classmethod
    def of(
        cls, chosen: Sequence[np.ndarray], *, fixed: np.ndarray, fixed_is_building: bool
    ) -> Pairs:
        """Pairs from each query's chosen candidate positions and the queries' own positions."""
        sizes = np.array([len(c) for c in chosen], dtype=np.int64)
        query = np.repeat(np.arange(len(chosen), dtype=np.int64), sizes)
        other = np.concatenate(chosen).astype(np.int64) if chosen else _EMPTY
        own = np.asarray(fixed, dtype=np.int64)[query]
        return cls(query, own, other) if fixed_is_building else cls(query, other, own)

    def __len__(self) -> int:
        return len(self.query)


@dataclass(frozen=True)
class CandidatePool:
    """Arrays of one snapshot's enterprises and buildings that candidate queries read."""

    enterprises: _Side
    buildings: _Side
    need_m2: np.ndarray  # float64 (n_enterprises,), NaN unknown
    tag_bits: np.ndarray  # uint32, see rules.list_bitmask
    risk_bits: np.ndarray  # uint32
    vacant_m2: np.ndarray  # float64 (n_buildings,)
    min_unit_m2: np.ndarray  # float64, NaN = any size lets
    risk_flags: np.ndarray  # object (n_enterprises,): the ";"-joined flags or None
    credit_score: np.ndarray  # float64 (n_enterprises,), NaN unknown
    tenants_of: dict[int, np.ndarray] = field(repr=False)  # building pos -> enterprise positions
    homes_of: dict[int, np.ndarray] = field(repr=False)  # enterprise pos -> building positions
    need32: np.ndarray = field(repr=False)  # need_m2 as float32, for speed
    _masks: dict[tuple[PoolRules, bool], np.ndarray] = field(
        repr=False, default_factory=dict, compare=False
    )  # enterprise masks per rules, see cached_enterprise_mask

    @classmethod
    def from_snapshot(
        cls, snapshot: Snapshot, *, need_m2: pd.Series | None = None,
        same_enterprises: CandidatePool | None = None,
    ) -> CandidatePool:  # fmt: skip
        """Pool of ``snapshot``; ``need_m2`` (m² by enterprise id) defaults to the features
        package's estimate (its context's ``space_need_m2``; pass it to skip building one).
        ``same_enterprises``: a pool of a snapshot whose enterprise rows are the same as this
        one's (only buildings, tenancies or events changed): its enterprise arrays are shared."""
        e, b = snapshot.enterprises, snapshot.buildings
        need = space_need_of(snapshot) if need_m2 is None else need_m2
        same = same_enterprises
        if same is None:
            e_side = _Side.of(e, columns=("city", "district", "section", "division", "hq_type"))
            tag_bits, risk_bits = (list_bitmask(e["tags"], codes=TAGS),
                                   list_bitmask(e["risk_flags"], codes=RISK_FLAGS))  # fmt: skip
            risk_flags = _objects(e["risk_flags"])
            credit = e["credit_score"].to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            e_side, tag_bits, risk_bits = same.enterprises, same.tag_bits, same.risk_bits
            risk_flags, credit = same.risk_flags, same.credit_score
        b_side = _Side.of(b, columns=("city", "district"))
        tenants, homes = _current_tenancies(snapshot, e_side=e_side, b_side=b_side)
        pool = cls(
            enterprises=e_side,
            buildings=b_side,
            need_m2=need.reindex(e.index).to_numpy(dtype=np.float64, na_value=np.nan),
            tag_bits=tag_bits,
            risk_bits=risk_bits,
            vacant_m2=b["vacant_area_m2"].to_numpy(dtype=np.float64, na_value=np.nan),
            min_unit_m2=b["min_unit_m2"].to_numpy(dtype=np.float64, na_value=np.nan),
            risk_flags=risk_flags,
            credit_score=credit,
            tenants_of=tenants,
            homes_of=homes,
            need32=need.reindex(e.index).to_numpy(dtype=np.float32, na_value=np.nan),
        )
        logger.info("candidate pool: %d enterprises, %d buildings", len(e), len(b))
        return pool

    def enterprise_mask(self, rules: PoolRules, *, location: bool) -> np.ndarray:
        """Enterprises passing the risk, industry, need, hq, tag (and if ``location``, the city,
        district and exclude_ids) rules; boolean (n_enterprises,)."""
        side = self.enterprises
        ok = eligible_by_risk(self.risk_bits, include_risky=rules.include_risky)
        ok &= side.isin("section", rules.industry_sections)
        ok &= side.isin("division", rules.industry_divisions)
        ok &= side.isin("hq_type", rules.hq_types)
        if rules.tags:
            ok &= (self.tag_bits & np.uint32(flags_bits(rules.tags, codes=TAGS))) != 0
        with np.errstate(invalid="ignore"):
            if rules.min_need_m2 is not None:
                ok &= self.need_m2 >= rules.min_need_m2
            if rules.max_need_m2 is not None:
                ok &= self.need_m2 <= rules.max_need_m2
        if location:
            ok &= side.isin("city", rules.cities) & side.isin("district", rules.districts)
            ok &= ~side.ids.isin(list(rules.exclude_ids))
        return ok

    def cached_enterprise_mask(self, rules: PoolRules, *, location: bool) -> np.ndarray:
        """:meth:`enterprise_mask`, kept for the last few rule sets (read-only array). Safe
        from several threads (a server's background fill beside its requests): the keys are
        copied in one step and evicted with ``pop(key, None)``, so two threads evicting at once
        cannot fail."""
        key = (rules, location)
        mask = self._masks.get(key)
        if mask is None:
            mask = self.enterprise_mask(rules, location=location)
            mask.flags.writeable = False
            keys = list(self._masks)
            for old in keys[: max(0, len(keys) - MASK_CACHE_SIZE + 1)]:
                self._masks.pop(old, None)
            self._masks[key] = mask
        return mask

    def enterprises_for_building(
        self, building: int, *, base: np.ndarray, rules: PoolRules
    ) -> np.ndarray:
        """Boolean (n_enterprises,) candidates of one building query: ``base`` (the enterprise
        mask of ``rules``), space fit (:func:`features.space_fits`, as a range on the need:
        min_unit/2 <= need <= vacant, min_unit <= vacant; an unknown need fits) and no tenant."""
        ok = base.copy()
        if rules.require_space_fit:
            ok &= self._space_fit(building, self.need32)
        ok[self.tenants_of.get(int(building), _EMPTY)] = False
        return ok

    def enterprises_fit_building(
        self, building: int, positions: np.ndarray, *, base: np.ndarray, rules: PoolRules
    ) -> np.ndarray:
        """:meth:`enterprises_for_building` at the enterprise ``positions`` only (int array):
        boolean per position, for a query that checks a few thousand rows, not every one."""
        ok = base[positions]
        if rules.require_space_fit:
            ok &= self._space_fit(building, self.need32[positions])
        tenants = self.tenants_of.get(int(building), _EMPTY)
        if len(tenants):
            ok &= ~_in_sorted(positions, tenants)
        return ok

    def _space_fit(self, building: int, need: np.ndarray) -> np.ndarray:
        """Boolean per need (float32 m²): the space-fit range of one building."""
        vacant, unit = self.vacant_m2[building], np.nan_to_num(self.min_unit_m2[building])
        if unit > vacant:  # nothing but an unknown need fits
            return np.isnan(need)
        return ~(need > np.float32(vacant)) & ~(need < np.float32(unit / MIN_UNIT_OVERSIZE_FACTOR))

    def building_mask(self, rules: PoolRules) -> np.ndarray:
        """Buildings passing the city, district and exclude_ids rules; boolean (n_buildings,)."""
        side = self.buildings
        ok = side.isin("city", rules.cities) & side.isin("district", rules.districts)
        return ok & ~side.ids.isin(list(rules.exclude_ids))

    def pairs_for_buildings(self, positions: np.ndarray, *, rules: PoolRules) -> Pairs:
        """Every candidate pair of the building queries at ``positions``, in query order."""
        base = self.cached_enterprise_mask(rules, location=True)
        chosen = [
            np.flatnonzero(self.enterprises_for_building(b, base=base, rules=rules))
            for b in positions
        ]
        return Pairs.of(chosen, fixed=positions, fixed_is_building=True)

    def pairs_for_enterprises(self, positions: np.ndarray, *, rules: PoolRules) -> Pairs:
        """Every candidate pair of the enterprise queries at ``positions``, in query order."""
        allowed = self.cached_enterprise_mask(rules, location=False)
        base = self.building_mask(rules)
        chosen = [
            np.flatnonzero(
                self.buildings_for_enterprise(e, base=base, allowed=allowed, rules=rules)
            )
            for e in positions
        ]
        return Pairs.of(chosen, fixed=positions, fixed_is_building=False)

    def buildings_for_enterprise(
        self, enterprise: int, *, base: np.ndarray, allowed: np.ndarray, rules: PoolRules
    ) -> np.ndarray:
        """Boolean (n_buildings,) candidates of one enterprise query: ``base`` (the building
        mask of ``rules``) if the enterprise is ``allowed``, space fit, not its own buildings."""
        ok = base & allowed[enterprise]
        if rules.require_space_fit:
            ok &= space_fits(
                self.need_m2[enterprise], vacant_m2=self.vacant_m2, min_unit_m2=self.min_unit_m2
            )
        ok[self.homes_of.get(int(enterprise), _EMPTY)] = False
        return ok

    def pair_frame(self, pairs: Pairs) -> pd.DataFrame:
        """(building_id, enterprise_id) ``str`` frame of ``pairs``, positional index."""
        return pd.DataFrame(
            {
                "building_id": self.buildings.ids[pairs.building].astype("str"),
                "enterprise_id": self.enterprises.ids[pairs.enterprise].astype("str"),
            }
        )


def _current_tenancies(
    snapshot: Snapshot, *, e_side: _Side, b_side: _Side
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Open tenancies as of the snapshot: building -> tenants and enterprise -> buildings."""
    ten = snapshot.tenancies
    open_ = ten[ten["end_date"].isna()]
    e_pos = e_side.ids.get_indexer(pd.Index(open_["enterprise_id"].astype("str")))
    b_pos = b_side.ids.get_indexer(pd.Index(open_["building_id"].astype("str")))
    keep = (e_pos >= 0) & (b_pos >= 0)
    e_pos, b_pos = e_pos[keep].astype(np.int64), b_pos[keep].astype(np.int64)
    return _groups(b_pos, e_pos), _groups(e_pos, b_pos)


def space_need_of(snapshot: Snapshot) -> pd.Series:
    """Space need in m² per enterprise id, as the features package estimates it (one rule)."""
    # The need does not depend on the vocabulary, so an empty one serves (and is cached).
    return context_for(snapshot, vocab=Vocabulary()).enterprises["space_need_m2"]


def _pool(source: CandidatePool | Snapshot) -> CandidatePool:
    return source if isinstance(source, CandidatePool) else CandidatePool.from_snapshot(source)


def candidates_for_buildings(
    source: CandidatePool | Snapshot, building_ids: Sequence[str], *, rules: PoolRules | None = None
) -> pd.DataFrame:
    """(building_id, enterprise_id) pairs each building may court, grouped by building in query
    order; NotFoundError for an unknown building. Pass a pool to reuse it across calls."""
    pool = _pool(source)
    positions = pool.buildings.positions(building_ids, kind="building")
    return pool.pair_frame(pool.pairs_for_buildings(positions, rules=rules or PoolRules()))


def candidates_for_enterprises(
    source: CandidatePool | Snapshot,
    enterprise_ids: Sequence[str],
    *,
    rules: PoolRules | None = None,
) -> pd.DataFrame:
    """(building_id, enterprise_id) pairs: the buildings each enterprise may move to, grouped by
    enterprise in query order; NotFoundError for an unknown enterprise."""
    pool = _pool(source)
    positions = pool.enterprises.positions(enterprise_ids, kind="enterprise")
    return pool.pair_frame(pool.pairs_for_enterprises(positions, rules=rules or PoolRules()))
