"""Lookups computed once per (snapshot, vocabulary) that the feature functions read.

Everything is vectorised: per-building and per-enterprise attribute tables, sparse
(enterprise x building) matrices of partners in each building and of earlier attraction events,
dense (building x division/section) tenant mixes, and the theme x division fit.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from tenantmatch.features.building import building_table
from tenantmatch.features.enterprise import enterprise_table
from tenantmatch.features.errors import FeatureError
from tenantmatch.features.lookups import KEY_SPAN, ContextData, TenantSizes
from tenantmatch.features.pair import (
    ENTERPRISE_ATTRIBUTES,
    fitting_building_counts,
    great_circle_km,
)
from tenantmatch.features.parallel import for_row_chunks
from tenantmatch.features.spec import REGISTERED, Feature
from tenantmatch.features.vocab import Vocabulary
from tenantmatch.registry import (
    Snapshot,
    industry_divisions,
    shanxi_districts,
    theme_industry_prior,
)
from tenantmatch.registry.tables import STAGE_RANK

logger = logging.getLogger(__name__)

N_DIVISIONS = 100  # columns indexed by the 2-digit division number itself
FIT_PSEUDO_COUNT = 10.0  # tenancies' worth of prior in the learned theme fit
RELATIONS = ("upstream", "downstream", "invest", "partner", "any", "weight")


@dataclass(frozen=True, eq=False)
class FeatureContext(ContextData):
    """``ContextData`` with how it is built (:meth:`build`) and the ``b__`` / ``e__`` feature
    blocks computed on first use."""

    @functools.cached_property
    def pair_attributes(self) -> tuple[np.ndarray, pd.Index]:
        """Positions in ``enterprise_array`` of the attributes the pair features read, and the
        labels of a join with only those (``join_positions(pair_only=True)``)."""
        positions = self.enterprises.columns.get_indexer(pd.Index(ENTERPRISE_ATTRIBUTES))
        if (positions < 0).any():
            raise FeatureError(f"pair features read unknown attributes {ENTERPRISE_ATTRIBUTES}")
        names = [f"b_{c}" for c in self.buildings.columns]
        names += [f"e_{c}" for c in ENTERPRISE_ATTRIBUTES]
        return positions, pd.Index(names, dtype=object)

    @functools.cached_property
    def enterprise_block(self) -> np.ndarray:
        """float32 (n_ent, e__ features): every enterprise's ``e__`` values (:func:`side_block`),
        computed on first use; X gathers its enterprise columns from here."""
        return side_block(self, prefix="e__")

    @functools.cached_property
    def building_block(self) -> np.ndarray:
        """float32 (n_bld, b__ features): every building's ``b__`` values, as above."""
        return side_block(self, prefix="b__")

    @classmethod
    def build(
        cls, snapshot: Snapshot, *, vocab: Vocabulary, prior: pd.DataFrame | None = None
    ) -> FeatureContext:
        """Context of ``snapshot``; ``prior`` (theme, division, weight) defaults to the
        reference ``theme_industry_prior()``."""
        prior = theme_industry_prior() if prior is None else prior
        b_index, e_index = snapshot.buildings.index, snapshot.enterprises.index
        ents = enterprise_table(snapshot, vocab=vocab)
        open_ = _open_pairs(snapshot)
        e_pos = e_index.get_indexer(pd.Index(open_["enterprise_id"]))
        b_pos = b_index.get_indexer(pd.Index(open_["building_id"]))
        known = (e_pos >= 0) & (b_pos >= 0)
        open_, e_pos, b_pos = open_[known], e_pos[known], b_pos[known]
        tenants = _matrix(e_pos, b_pos, np.ones(len(open_)), shape=(len(e_index), len(b_index)))
        div_mix = _mix(
            b_pos, ents["division_num"].to_numpy()[e_pos], n_rows=len(b_index), n_cols=N_DIVISIONS
        )
        sections = len(industry_divisions()["section"].unique())
        sec_mix = _mix(
            b_pos, ents["section_num"].to_numpy()[e_pos], n_rows=len(b_index), n_cols=sections
        )
        blds = building_table(snapshot, vocab=vocab, open_pairs=open_, division_mix=div_mix)
        themes = pd.Index(sorted({*snapshot.buildings["theme"].dropna(), *prior["theme"]}))
        blds["theme_idx"] = _positions(themes, snapshot.buildings["theme"])
        offices = latest_office(snapshot)  # one sort of the tenancies serves both
        _add_places(blds, ents, snapshot=snapshot, offices=offices)
        _add_office_profile(blds, ents, offices=offices)
        ents["fitting_buildings"] = fitting_building_counts(
            ents["space_need_m2"].to_numpy(), ents["city_code"].to_numpy(),
            b_city=blds["city_code"].to_numpy(), vacant_m2=blds["vacant_area_m2"].to_numpy(),
            min_unit_m2=blds["min_unit_m2"].to_numpy(),
        )  # fmt: skip
        prior_matrix = _prior_matrix(prior, themes=themes)
        counts = _theme_counts(snapshot, themes=themes, division=ents["division_num"])
        # One float64 block that the frame's columns view (column-major: each column contiguous)
        # instead of the frame plus a copy for joins: ~300 MB less at 1M enterprises. The few
        # float32 code columns become float64, which is what the joins read already.
        ents_array = np.asfortranarray(ents.to_numpy(dtype=np.float64))
        ents = pd.DataFrame(ents_array, index=ents.index, columns=ents.columns, copy=False)
        ctx = cls(
            as_of=snapshot.as_of,
            vocab=vocab,
            buildings=blds,
            enterprises=ents,
            tenants=tenants,
            partners=_partner_matrices(snapshot, tenants=tenants),
            division_mix=div_mix,
            section_mix=sec_mix,
            theme_fit=learned_theme_fit(counts, prior=prior_matrix),
            theme_prior=prior_matrix,
            sizes=_tenant_sizes(
                b_pos, employees=ents["employees"].to_numpy()[e_pos], n_buildings=len(b_index)
            ),
            prior_events=_prior_events(snapshot),
            **_last_events(snapshot),
            building_array=blds.to_numpy(dtype=np.float64),
            enterprise_array=ents_array,
        )
        fill_move_hazard(ctx)
        return ctx


def _open_pairs(snapshot: Snapshot) -> pd.DataFrame:
    """Distinct (enterprise_id, building_id) of open tenancies as of the snapshot."""
    ten = snapshot.tenancies
    open_ = ten.loc[ten["end_date"].isna(), ["enterprise_id", "building_id"]]
    return open_.drop_duplicates().reset_index(drop=True)


def _positions(index: pd.Index, values: pd.Series) -> np.ndarray:
    """float64 positions of ``values`` in ``index``; NaN where absent or missing."""
    pos = index.get_indexer(pd.Index(values.astype("str")))
    return np.where(pos >= 0, pos, np.nan)


def _matrix(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, *, shape: tuple[int, int]
) -> sparse.csr_array:
    """CSR matrix of ``values`` at (rows, cols); duplicates summed."""
    return sparse.csr_array(sparse.coo_array((values, (rows, cols)), shape=shape))


def _mix(rows: np.ndarray, codes: np.ndarray, *, n_rows: int, n_cols: int) -> np.ndarray:
    """(n_rows, n_cols) counts of ``codes`` per row; NaN codes are skipped."""
    known = ~np.isnan(codes)
    mix = np.zeros((n_rows, n_cols))
    np.add.at(mix, (rows[known], codes[known].astype(np.int64)), 1.0)
    return mix


def _add_places(
    blds: pd.DataFrame, ents: pd.DataFrame, *, snapshot: Snapshot, offices: pd.Series
) -> None:
    """Shared city / district codes on both tables, each building's km to its city centre and
    each enterprise's location: its own lat/lon, else its district's centroid, else its
    city's (reference coordinates). ``offices``: :func:`latest_office` of the snapshot."""
    b, e = snapshot.buildings, location_as_of(snapshot, offices=offices)
    b_place, e_place = b["city"] + "|" + b["district"], e["city"] + "|" + e["district"]
    cities = pd.Index(sorted({*b["city"].dropna(), *e["city"].dropna()}))
    places = pd.Index(sorted({*b_place.dropna(), *e_place.dropna()}))
    blds["city_code"], ents["city_code"] = (
        _positions(cities, b["city"]),
        _positions(cities, e["city"]),
    )
    blds["place_code"], ents["place_code"] = (
        _positions(places, b_place),
        _positions(places, e_place),
    )
    ref = shanxi_districts()
    by_place = ref.set_index(ref["city"] + "|" + ref["district"])[["lat", "lon"]]
    by_city = ref.drop_duplicates("city").set_index("city")[["city_lat", "city_lon"]]
    by_place = by_place[~by_place.index.duplicated()]
    for axis in ("lat", "lon"):
        centroid = e_place.map(by_place[axis]).fillna(e["city"].map(by_city[f"city_{axis}"]))
        ents[f"loc_{axis}"] = e[axis].astype("float64").fillna(centroid.astype("float64"))
    blds["centre_km"] = great_circle_km(
        blds["lat"].to_numpy(), blds["lon"].to_numpy(),
        b["city"].map(by_city["city_lat"]).to_numpy(dtype=np.float64, na_value=np.nan),
        b["city"].map(by_city["city_lon"]).to_numpy(dtype=np.float64, na_value=np.nan),
    )  # fmt: skip


OFFICE_ATTRIBUTES = ("grade_rank", "age_years", "centre_km")


def _add_office_profile(blds: pd.DataFrame, ents: pd.DataFrame, *, offices: pd.Series) -> None:
    """``office_<attribute>`` per enterprise: the :data:`OFFICE_ATTRIBUTES` of the building of
    its latest tenancy started by the snapshot date (``offices``, :func:`latest_office`; open
    or ended), NaN if it never had one: what a firm chose before reveals its taste (quality,
    newness, centrality)."""
    office = blds.reindex(pd.Index(offices.reindex(ents.index)))
    for name in OFFICE_ATTRIBUTES:
        ents[f"office_{name}"] = office[name].to_numpy(dtype=np.float64)


LOCATION_COLUMNS = ("city", "district", "lat", "lon")


def latest_office(snapshot: Snapshot) -> pd.Series:
    """building_id of each enterprise's latest tenancy started by the snapshot date (open or
    ended; ties by building id), indexed by enterprise_id; firms without one are absent."""
    ten = snapshot.tenancies.sort_values(["start_date", "building_id"], kind="stable")
    last = ten.drop_duplicates("enterprise_id", keep="last")
    return pd.Series(last["building_id"].to_numpy(), index=pd.Index(last["enterprise_id"]))


def location_as_of(snapshot: Snapshot, *, offices: pd.Series) -> pd.DataFrame:
    """Where each enterprise was on the snapshot date: the building of its latest tenancy started
    by then (``offices``, :func:`latest_office`; open or ended), else the registry's location.
    The registry holds today's address, which for a firm that moved later would leak its future
    building into earlier snapshots."""
    e = snapshot.enterprises.reindex(columns=list(LOCATION_COLUMNS))
    office = snapshot.buildings.reindex(columns=list(LOCATION_COLUMNS)).reindex(pd.Index(offices))
    office.index = offices.index
    office = office.reindex(e.index)
    has_office = office["city"].notna().to_numpy()
    out = {}
    for col in LOCATION_COLUMNS:
        out[col] = pd.Series(
            np.where(has_office, office[col].to_numpy(dtype=object), e[col].to_numpy(dtype=object)),
            index=e.index,
        )
    located = pd.DataFrame(out)
    for col in ("lat", "lon"):
        located[col] = pd.to_numeric(located[col], errors="coerce").astype("float64")
    return located


def _prior_matrix(prior: pd.DataFrame, *, themes: pd.Index) -> np.ndarray:
    """(n_themes, 100) prior weights clipped to 0..1; unlisted pairs 0; themes it lacks NaN."""
    matrix = np.full((len(themes), N_DIVISIONS), np.nan)
    rows = themes.get_indexer(pd.Index(prior["theme"].astype("str")))
    matrix[np.unique(rows[rows >= 0])] = 0.0
    cols = pd.to_numeric(prior["division"], errors="coerce").to_numpy(dtype=np.float64)
    ok = (rows >= 0) & ~np.isnan(cols)
    weights = prior["weight"].to_numpy(dtype=np.float64)[ok].clip(0.0, 1.0)
    matrix[rows[ok], cols[ok].astype(np.int64)] = weights
    return matrix


def _theme_counts(snapshot: Snapshot, *, themes: pd.Index, division: pd.Series) -> np.ndarray:
    """(n_themes, 100) tenancies started by the snapshot date, by building theme and division."""
    ten = snapshot.tenancies
    theme = ten["building_id"].map(snapshot.buildings["theme"])
    rows = _positions(themes, theme)
    cols = ten["enterprise_id"].map(division).to_numpy(dtype=np.float64, na_value=np.nan)
    ok = ~np.isnan(rows) & ~np.isnan(cols)
    counts = np.zeros((len(themes), N_DIVISIONS))
    np.add.at(counts, (rows[ok].astype(np.int64), cols[ok].astype(np.int64)), 1.0)
    return counts


def learned_theme_fit(
    counts: np.ndarray, *, prior: np.ndarray, pseudo: float = FIT_PSEUDO_COUNT
) -> np.ndarray:
    """Lift P(division | theme) / P(division), both smoothed with ``pseudo`` tenancies drawn
    from the prior (a theme's weights normalised; uniform over divisions where it has none).
    (n_themes, 100); 1.0 = as common as anywhere; NaN where P(division) is 0."""
    weights = np.nan_to_num(prior, nan=0.0)
    totals = weights.sum(axis=1, keepdims=True)
    uniform = np.full_like(weights, 1.0 / N_DIVISIONS)
    q = np.divide(weights, totals, out=uniform, where=totals > 0)
    p_given_theme = (counts + pseudo * q) / (counts.sum(axis=1, keepdims=True) + pseudo)
    p_overall = (counts.sum(axis=0) + pseudo * q.mean(axis=0)) / (counts.sum() + pseudo)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p_overall > 0, p_given_theme / p_overall, np.nan)


def _relation_edges(snapshot: Snapshot) -> pd.DataFrame:
    """(enterprise position, partner position, relation, weight), one row per direction seen
    from the enterprise; a missing link weight counts as 1."""
    index = snapshot.enterprises.index
    links = snapshot.links
    src, tgt = (
        index.get_indexer(pd.Index(links["source_id"])),
        index.get_indexer(pd.Index(links["target_id"])),
    )
    weight = links["weight"].fillna(1.0).to_numpy(dtype=np.float64)
    rel = links["relation"].to_numpy(dtype=object)
    supplies = rel == "supplies"
    forward = np.where(supplies, "downstream", np.where(rel == "invests", "invest", "partner"))
    backward = np.where(supplies, "upstream", forward)
    return pd.DataFrame(
        {
            "row": np.r_[src, tgt],
            "col": np.r_[tgt, src],
            "relation": np.r_[forward, backward],
            "weight": np.r_[weight, weight],
        }
    )


def _partner_matrices(
    snapshot: Snapshot, *, tenants: sparse.csr_array
) -> dict[str, sparse.csr_array]:
    """Per relation, (n_ent, n_bld) partners currently in each building: counts of distinct
    partners, and under ``weight`` the sum over partners of their strongest link weight."""
    edges = _relation_edges(snapshot)
    n = tenants.shape[0]
    out = {}
    for relation in RELATIONS:
        chosen = edges if relation in ("any", "weight") else edges[edges["relation"] == relation]
        part = chosen.groupby(["row", "col"], as_index=False)["weight"].max()
        values = part["weight"] if relation == "weight" else np.ones(len(part))
        adjacency = _matrix(
            part["row"].to_numpy(),
            part["col"].to_numpy(),
            np.asarray(values, dtype=np.float64),
            shape=(n, n),
        )
        out[relation] = sparse.csr_array(adjacency @ tenants)
    return out


def _tenant_sizes(b_pos: np.ndarray, *, employees: np.ndarray, n_buildings: int) -> TenantSizes:
    known = ~np.isnan(employees)
    size = 1.0 + employees[known]
    keys = b_pos[known] * KEY_SPAN + np.log(size)
    order = np.argsort(keys, kind="stable")
    keys, size = keys[order], size[order]
    bounds = np.arange(n_buildings + 1) * KEY_SPAN
    edges = np.searchsorted(keys, bounds, side="left")
    return TenantSizes(
        keys=keys,
        cum_size=np.r_[0.0, np.cumsum(size)],
        cum_inverse=np.r_[0.0, np.cumsum(1.0 / size)],
        starts=edges[:-1],
        ends=edges[1:],
    )


def _last_events(snapshot: Snapshot) -> dict[str, sparse.csr_array]:
    """Per pair, the latest attraction event by the snapshot date: days since it (+1) and its
    stage rank (+2), both 0 where the pair has no event (sparse zeros mean "none")."""
    events = snapshot.events
    frame = pd.DataFrame(
        {
            "e": snapshot.enterprises.index.get_indexer(pd.Index(events["enterprise_id"])),
            "b": snapshot.buildings.index.get_indexer(pd.Index(events["building_id"])),
            "date": events["date"].to_numpy(),
            "rank": events["stage"].map(STAGE_RANK).to_numpy(dtype=np.float64, na_value=np.nan),
        }
    )
    frame = frame[(frame["e"] >= 0) & (frame["b"] >= 0)].dropna()
    # Latest event per pair; on one day the furthest stage counts as the latest.
    last = frame.sort_values(["date", "rank"], kind="stable").drop_duplicates(
        ["e", "b"], keep="last"
    )
    days = (snapshot.as_of - pd.to_datetime(last["date"])).dt.days.to_numpy(dtype=np.float64)
    shape = (len(snapshot.enterprises), len(snapshot.buildings))
    rows, cols = last["e"].to_numpy(dtype=np.int64), last["b"].to_numpy(dtype=np.int64)
    return {
        "last_event_days": _matrix(rows, cols, days + 1.0, shape=shape),
        "last_event_stage": _matrix(rows, cols, last["rank"].to_numpy() + 2.0, shape=shape),
    }


def _prior_events(snapshot: Snapshot) -> sparse.csr_array:
    """(n_ent, n_bld) highest stage rank of the pair's events by the snapshot date (0 = none)."""
    events = snapshot.events
    e_pos = snapshot.enterprises.index.get_indexer(pd.Index(events["enterprise_id"]))
    b_pos = snapshot.buildings.index.get_indexer(pd.Index(events["building_id"]))
    rank = events["stage"].map(STAGE_RANK).to_numpy(dtype=np.float64, na_value=np.nan)
    frame = pd.DataFrame({"e": e_pos, "b": b_pos, "rank": rank})
    frame = frame[(frame["e"] >= 0) & (frame["b"] >= 0)].dropna()
    best = frame.groupby(["e", "b"], as_index=False)["rank"].max()
    shape = (len(snapshot.enterprises), len(snapshot.buildings))
    rows, cols = best["e"].to_numpy(dtype=np.int64), best["b"].to_numpy(dtype=np.int64)
    return _matrix(rows, cols, best["rank"].to_numpy(dtype=np.float64), shape=shape)


HAZARD_COLUMN = "move_hazard"  # the enterprise attribute e__move_hazard reads
HAZARD_FEATURE = "e__move_hazard"  # the feature that reads it
SIDE_CHUNK = 200_000  # rows per block when one side's features are computed for every row
# Each side's registered features (every feature set's), in registry order: the columns of the
# context's per-side blocks.
SIDE_FEATURES: dict[str, tuple[Feature, ...]] = {
    prefix: tuple(f for f in REGISTERED if f.name.startswith(prefix)) for prefix in ("e__", "b__")
}


def side_block(ctx: FeatureContext, *, prefix: str) -> np.ndarray:
    """float32 (rows of the side, features of the side) values of every ``e__`` (or ``b__``)
    feature for every enterprise (or building) of ``ctx``, by the registry's own functions,
    in blocks of :data:`SIDE_CHUNK` rows joined to the other side's first row (a side's
    features never read the other side); NaN when the other side is empty."""
    features = SIDE_FEATURES[prefix]
    enterprise_side = prefix == "e__"
    n = len(ctx.enterprises) if enterprise_side else len(ctx.buildings)
    n_other = len(ctx.buildings) if enterprise_side else len(ctx.enterprises)
    block = np.full((n, len(features)), np.nan, dtype=np.float32)
    if not n_other:
        return block
    for start in range(0, n, SIDE_CHUNK):
        own = np.arange(start, min(n, start + SIDE_CHUNK))
        fixed = np.zeros(len(own), np.int64)
        b_pos, e_pos = (fixed, own) if enterprise_side else (own, fixed)
        joined = join_positions(b_pos, e_pos, ctx, index=pd.RangeIndex(len(own)))
        for j, f in enumerate(features):
            block[own, j] = f.fn(joined, ctx).to_numpy(dtype=np.float32)
    return block


def side_features(ctx: FeatureContext, *, prefix: str) -> pd.DataFrame:
    """float32 values of every ``e__`` (or ``b__``) feature for every enterprise (or building)
    of ``ctx`` (index its ids, columns the feature names): a view of the per-side block."""
    enterprise_side = prefix == "e__"
    block = ctx.enterprise_block if enterprise_side else ctx.building_block
    side = ctx.enterprises if enterprise_side else ctx.buildings
    names = [f.name for f in SIDE_FEATURES[prefix]]
    return pd.DataFrame(block, index=side.index, columns=names, copy=False)


def enterprise_features(ctx: FeatureContext, names: Sequence[str]) -> pd.DataFrame:
    """float32 values of the named ``e__`` features for every enterprise of ``ctx`` (index
    enterprise_id, columns ``names``): columns of :func:`side_features`.
    FeatureError for a name that is not a registered enterprise feature."""
    every = side_features(ctx, prefix="e__")
    unknown = [name for name in names if name not in every.columns]
    if unknown:
        raise FeatureError(f"enterprise_features takes registered e__ features, got {unknown}")
    return every[list(names)]


def fill_move_hazard(ctx: FeatureContext) -> None:
    """Write the move hazard of the context's vocabulary (if any) for every enterprise into its
    ``move_hazard`` attribute and its e__move_hazard value, in place: call it on a new
    context, before it is shared."""
    hazard = ctx.vocab.hazard
    if hazard is None or not len(ctx.enterprises):
        return
    values = np.asarray(hazard.predict(enterprise_features(ctx, hazard.inputs)), np.float64)
    ctx.enterprise_array[:, ctx.enterprises.columns.get_loc(HAZARD_COLUMN)] = values
    e_features = [f.name for f in SIDE_FEATURES["e__"]]
    ctx.enterprise_block[:, e_features.index(HAZARD_FEATURE)] = values.astype(np.float32)


def join_positions(
    b_pos: np.ndarray,
    e_pos: np.ndarray,
    ctx: FeatureContext,
    *,
    index: pd.Index,
    threads: int = 1,
    pair_only: bool = False,
) -> pd.DataFrame:
    """int64 ``b_pos`` / ``e_pos`` and the ``b_*`` / ``e_*`` attributes gathered into one
    float64 block, a contiguous row per column (a frame per side, concatenated, would copy
    every column twice). Positions are known to be in range: ``take`` need not check them.
    The enterprise attributes (scattered reads over every enterprise) are gathered by
    ``threads`` at once, a share of the attributes each; ``pair_only``: only those the pair
    features read (:data:`features.pair.ENTERPRISE_ATTRIBUTES`)."""
    n_b = ctx.building_array.shape[1]
    every = (np.arange(ctx.enterprise_array.shape[1]), ctx.joined_columns)
    columns, names = ctx.pair_attributes if pair_only else every
    block = np.empty((n_b + len(columns), len(b_pos)), dtype=np.float64)
    np.take(ctx.building_array.T, b_pos, axis=1, out=block[:n_b], mode="clip")
    attributes, own = ctx.enterprise_array.T, block[n_b:]

    def gather(rows: slice) -> None:
        for row in range(rows.start, rows.stop):
            np.take(attributes[columns[row]], e_pos, out=own[row], mode="clip")

    for_row_chunks(len(columns), gather, threads=threads)
    joined = pd.DataFrame(block.T, index=index, columns=names, copy=False)
    joined.insert(0, "e_pos", np.asarray(e_pos, dtype=np.int64))
    joined.insert(0, "b_pos", np.asarray(b_pos, dtype=np.int64))
    return joined
