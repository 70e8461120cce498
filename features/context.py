"""Lookups computed once per (snapshot, vocabulary) that the feature functions read.

Everything is vectorised: per-building and per-enterprise attribute tables, sparse
(enterprise x building) matrices of partners in each building and of earlier attraction events,
dense (building x division/section) tenant mixes, and the theme x division fit.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Collection, Sequence
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
        ents = enterprise_table(snapshot, vocab=vocab)
        offices = latest_office(snapshot)  # one sort of the tenancies serves both
        located = location_as_of(snapshot, offices=offices)
        names = _place_names(snapshot.buildings, located)
        side = _BuildingSide.of(snapshot, vocab=vocab, prior=prior, names=names,
                                attributes=lambda name: ents[name].to_numpy())  # fmt: skip
        placed = _located_columns(located, offices=offices, names=names, blds=side.buildings)
        for name in placed.columns:  # in place: a concatenation would copy the table once more
            ents[name] = placed[name].to_numpy()
        # One float64 block that the frame's columns view (column-major: each column contiguous)
        # instead of the frame plus a copy for joins: ~300 MB less at 1M enterprises. The few
        # float32 code columns become float64, which is what the joins read already.
        ents_array = np.asfortranarray(ents.to_numpy(dtype=np.float64))
        _fill_fitting_buildings(ents_array, ents.columns, blds=side.buildings)
        ctx = side.context(
            snapshot, ents_array=ents_array, columns=ents.columns,
            partners=_partner_matrices(snapshot, tenants=side.tenants),
            events=_event_matrices(snapshot),
        )  # fmt: skip
        fill_move_hazard(ctx)
        return ctx

    @classmethod
    def patched(
        cls, previous: FeatureContext, snapshot: Snapshot, *, buildings: Collection[str],
        enterprises: Collection[str], prior: pd.DataFrame | None = None,
    ) -> FeatureContext | None:  # fmt: skip
        """The context :meth:`build` gives for ``snapshot``, computed from ``previous`` (the
        context of the snapshot before a write, same vocabulary and date) by recomputing only
        what the write's touched ``buildings`` / ``enterprises`` can change: the attributes of
        those firms and of every firm with a tenancy in those buildings, the partner rows of
        their link partners, their event rows, then the ``e__`` values and move hazard of every
        firm whose attributes changed; the building side (small) is rebuilt whole. None when
        it cannot be patched (a building or an enterprise added or removed, a new date, a city
        or district appeared or vanished): build it instead."""
        e_index, b_index = snapshot.enterprises.index, snapshot.buildings.index
        if (previous.as_of != snapshot.as_of or not previous.enterprises.index.equals(e_index)
                or not previous.buildings.index.equals(b_index)):  # fmt: skip
            return None
        vocab, ten = previous.vocab, snapshot.tenancies
        touched = pd.Index(sorted({str(e) for e in enterprises}), dtype=object)
        in_touched = ten["building_id"].isin(sorted({str(b) for b in buildings}))
        own_ids = touched.union(pd.Index(ten.loc[in_touched, "enterprise_id"].unique()))
        rows = np.sort(e_index.get_indexer(own_ids))
        rows = rows[rows >= 0]
        part = _part(snapshot, e_index[rows])
        base = enterprise_table(part, vocab=vocab)
        offices = latest_office(part)
        located = location_as_of(part, offices=offices)
        names = (previous.cities, previous.places)
        if not _names_cover(names, snapshot.buildings, located):
            return None
        columns = previous.enterprises.columns
        ents_array = previous.enterprise_array.copy(order="F")
        _put_rows(ents_array, columns, rows, base)
        side = _BuildingSide.of(
            snapshot, vocab=vocab, prior=prior, names=names,
            attributes=lambda name: ents_array[:, columns.get_loc(name)],
        )  # fmt: skip
        placed = _located_columns(located, offices=offices, names=names, blds=side.buildings)
        _put_rows(ents_array, columns, rows, placed)
        _fill_fitting_buildings(ents_array, columns, blds=side.buildings)
        if not _names_used(names, ents_array, columns, blds=side.buildings):
            return None
        touched_rows = np.sort(e_index.get_indexer(touched))
        touched_rows = touched_rows[touched_rows >= 0]
        ctx = side.context(
            snapshot, ents_array=ents_array, columns=columns,
            partners=_patched_partners(previous, snapshot, tenants=side.tenants,
                                       touched=touched_rows),
            events=_patched_events(previous, snapshot, touched=touched_rows),
        )  # fmt: skip
        changed = _changed_rows(previous.enterprise_array, ents_array, columns, rows=rows)
        block = previous.enterprise_block.copy()
        block[changed] = side_block(ctx, prefix="e__", rows=changed)
        ctx.__dict__["enterprise_block"] = block  # the cached property, filled
        fill_move_hazard(ctx, rows=changed)
        return ctx


@dataclass(frozen=True, eq=False)
class _BuildingSide:
    """The building-side lookups of a context (small: rebuilt whole, also by a patch)."""

    vocab: Vocabulary
    buildings: pd.DataFrame
    tenants: sparse.csr_array
    division_mix: np.ndarray
    section_mix: np.ndarray
    theme_fit: np.ndarray
    theme_prior: np.ndarray
    sizes: TenantSizes
    cities: pd.Index
    places: pd.Index

    @classmethod
    def of(
        cls, snapshot: Snapshot, *, vocab: Vocabulary, prior: pd.DataFrame | None,
        names: tuple[pd.Index, pd.Index], attributes: Callable[[str], np.ndarray],
    ) -> _BuildingSide:  # fmt: skip
        """From the snapshot and the enterprises' ``attributes`` (one column of their table by
        name; division_num, section_num and employees are read); ``names``: the city and place
        names the codes index."""
        prior = theme_industry_prior() if prior is None else prior
        b_index, e_index = snapshot.buildings.index, snapshot.enterprises.index
        division = attributes("division_num")
        open_ = _open_pairs(snapshot)
        e_pos = e_index.get_indexer(pd.Index(open_["enterprise_id"]))
        b_pos = b_index.get_indexer(pd.Index(open_["building_id"]))
        known = (e_pos >= 0) & (b_pos >= 0)
        open_, e_pos, b_pos = open_[known], e_pos[known], b_pos[known]
        tenants = _matrix(e_pos, b_pos, np.ones(len(open_)), shape=(len(e_index), len(b_index)))
        div_mix = _mix(b_pos, division[e_pos], n_rows=len(b_index), n_cols=N_DIVISIONS)
        sections = len(industry_divisions()["section"].unique())
        sec_mix = _mix(b_pos, attributes("section_num")[e_pos],
                       n_rows=len(b_index), n_cols=sections)  # fmt: skip
        blds = building_table(snapshot, vocab=vocab, open_pairs=open_, division_mix=div_mix)
        themes = pd.Index(sorted({*snapshot.buildings["theme"].dropna(), *prior["theme"]}))
        blds["theme_idx"] = _positions(themes, snapshot.buildings["theme"])
        _add_building_places(blds, snapshot.buildings, names=names)
        prior_matrix = _prior_matrix(prior, themes=themes)
        counts = _theme_counts(snapshot, themes=themes,
                               division=pd.Series(division, index=e_index))  # fmt: skip
        employees = attributes("employees")[e_pos]
        return cls(
            vocab=vocab, buildings=blds, tenants=tenants, division_mix=div_mix,
            section_mix=sec_mix, theme_fit=learned_theme_fit(counts, prior=prior_matrix),
            theme_prior=prior_matrix,
            sizes=_tenant_sizes(b_pos, employees=employees, n_buildings=len(b_index)),
            cities=names[0], places=names[1],
        )  # fmt: skip

    def context(
        self, snapshot: Snapshot, *, ents_array: np.ndarray, columns: pd.Index,
        partners: dict[str, sparse.csr_array], events: dict[str, sparse.csr_array],
    ) -> FeatureContext:  # fmt: skip
        """The context of ``snapshot`` with these buildings and the enterprises' attributes,
        partner and event matrices (the move hazard not filled yet)."""
        ents = pd.DataFrame(ents_array, index=snapshot.enterprises.index, columns=columns,
                            copy=False)  # fmt: skip
        return FeatureContext(
            as_of=snapshot.as_of, vocab=self.vocab, buildings=self.buildings, enterprises=ents,
            tenants=self.tenants, partners=partners, division_mix=self.division_mix,
            section_mix=self.section_mix, theme_fit=self.theme_fit,
            theme_prior=self.theme_prior, sizes=self.sizes, **events,
            building_array=self.buildings.to_numpy(dtype=np.float64),
            enterprise_array=ents_array, cities=self.cities, places=self.places,
        )  # fmt: skip


def _part(snapshot: Snapshot, ids: pd.Index) -> Snapshot:
    """``snapshot`` with only the enterprises ``ids`` (in its order) and their tenancies,
    events and links; every building kept."""
    keep = {name: getattr(snapshot, name) for name in ("tenancies", "events")}
    keep = {name: frame[frame["enterprise_id"].isin(ids)] for name, frame in keep.items()}
    links = snapshot.links
    return dataclasses.replace(
        snapshot, enterprises=snapshot.enterprises.loc[ids], **keep, _contexts={},
        links=links[links["source_id"].isin(ids) & links["target_id"].isin(ids)],
    )  # fmt: skip


def _put_rows(array: np.ndarray, columns: pd.Index, rows: np.ndarray, frame: pd.DataFrame) -> None:
    """Write ``frame`` (one row per position in ``rows``) into those rows of ``array``
    (columns ``columns``), all its columns but the move hazard (filled separately)."""
    for name in frame.columns:
        if name != HAZARD_COLUMN:
            array[rows, columns.get_loc(name)] = frame[name].to_numpy(dtype=np.float64)


def _changed_rows(
    old: np.ndarray, new: np.ndarray, columns: pd.Index, *, rows: np.ndarray
) -> np.ndarray:
    """Positions of the rows whose attributes (the move hazard aside) differ, NaN equal to NaN:
    among ``rows`` (those recomputed) any attribute, elsewhere ``fitting_buildings`` (the one
    column recomputed for every row)."""
    own = np.flatnonzero(columns != HAZARD_COLUMN)
    fitting = columns.get_loc("fitting_buildings")
    out = [rows[_differs(old[np.ix_(rows, own)], new[np.ix_(rows, own)]).any(axis=1)],
           np.flatnonzero(_differs(old[:, fitting], new[:, fitting]))]  # fmt: skip
    return np.union1d(*out).astype(np.int64)


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a != b) & ~(np.isnan(a) & np.isnan(b))


def _with_rows(old: sparse.csr_array, rows: np.ndarray, new: sparse.csr_array) -> sparse.csr_array:
    """``old`` with its ``rows`` taken from ``new`` (same shape) instead."""
    mine = np.zeros(old.shape[0], dtype=bool)
    mine[rows] = True
    a, b = old.tocoo(), new.tocoo()
    keep, take = ~mine[a.row], mine[b.row]
    return _matrix(np.r_[a.row[keep], b.row[take]], np.r_[a.col[keep], b.col[take]],
                   np.r_[a.data[keep], b.data[take]], shape=old.shape)  # fmt: skip


def _patched_partners(
    previous: ContextData, snapshot: Snapshot, *, tenants: sparse.csr_array, touched: np.ndarray
) -> dict[str, sparse.csr_array]:
    """The partner matrices with the rows of the ``touched`` enterprise positions and of their
    link partners recomputed (a partner's move changes what a firm sees in each building)."""
    index = snapshot.enterprises.index
    edges = _relation_edges(snapshot, near=index[touched])
    rows = np.union1d(touched, edges["row"].to_numpy()[np.isin(edges["col"].to_numpy(), touched)])
    edges = _relation_edges(snapshot, near=index[rows])  # every link of those rows
    mine = edges[np.isin(edges["row"].to_numpy(), rows)]
    fresh = _partner_matrices(snapshot, tenants=tenants, edges=mine)
    return {name: _with_rows(previous.partners[name], rows, fresh[name]) for name in RELATIONS}


def _patched_events(
    previous: ContextData, snapshot: Snapshot, *, touched: np.ndarray
) -> dict[str, sparse.csr_array]:
    """The event matrices with the rows of the ``touched`` enterprise positions recomputed."""
    ids = snapshot.enterprises.index[touched]
    events = snapshot.events
    fresh = _event_matrices(dataclasses.replace(
        snapshot, events=events[events["enterprise_id"].isin(ids)], _contexts={}))  # fmt: skip
    return {name: _with_rows(getattr(previous, name), touched, matrix)
            for name, matrix in fresh.items()}  # fmt: skip


def _event_matrices(snapshot: Snapshot) -> dict[str, sparse.csr_array]:
    return {"prior_events": _prior_events(snapshot), **_last_events(snapshot)}


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


def _place(frame: pd.DataFrame) -> pd.Series:
    """"city|district" of each row (NaN where either is missing)."""
    return frame["city"] + "|" + frame["district"]


def _place_names(buildings: pd.DataFrame, located: pd.DataFrame) -> tuple[pd.Index, pd.Index]:
    """The city and the city|district names the codes index: every one a building or an
    enterprise (``located``, :func:`location_as_of`) is in, sorted."""
    cities = pd.Index(sorted({*buildings["city"].dropna(), *located["city"].dropna()}))
    places = pd.Index(sorted({*_place(buildings).dropna(), *_place(located).dropna()}))
    return cities, places


def _names_cover(
    names: tuple[pd.Index, pd.Index], buildings: pd.DataFrame, located: pd.DataFrame
) -> bool:
    """Are the cities and places of ``buildings`` and ``located`` all among ``names``."""
    found = (buildings["city"], located["city"]), (_place(buildings), _place(located))
    return all(bool(values.dropna().isin(index).all())
               for index, pair in zip(names, found, strict=True) for values in pair)  # fmt: skip


def _names_used(
    names: tuple[pd.Index, pd.Index], ents_array: np.ndarray, columns: pd.Index, *,
    blds: pd.DataFrame,
) -> bool:  # fmt: skip
    """Does every one of ``names`` still hold a building or an enterprise (else a fresh build
    would index fewer)."""
    for index, column in zip(names, ("city_code", "place_code"), strict=True):
        codes = np.r_[ents_array[:, columns.get_loc(column)], blds[column].to_numpy()]
        if len(np.unique(codes[~np.isnan(codes)])) != len(index):
            return False
    return True


def _by_place_and_city() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference coordinates: (lat, lon) by "city|district", (city_lat, city_lon) by city."""
    ref = shanxi_districts()
    by_place = ref.set_index(_place(ref))[["lat", "lon"]]
    by_city = ref.drop_duplicates("city").set_index("city")[["city_lat", "city_lon"]]
    return by_place[~by_place.index.duplicated()], by_city


def _add_building_places(
    blds: pd.DataFrame, buildings: pd.DataFrame, *, names: tuple[pd.Index, pd.Index]
) -> None:
    """Each building's city and place codes in ``names`` and km to its city centre."""
    blds["city_code"] = _positions(names[0], buildings["city"])
    blds["place_code"] = _positions(names[1], _place(buildings))
    _, by_city = _by_place_and_city()
    blds["centre_km"] = great_circle_km(
        blds["lat"].to_numpy(), blds["lon"].to_numpy(),
        buildings["city"].map(by_city["city_lat"]).to_numpy(dtype=np.float64, na_value=np.nan),
        buildings["city"].map(by_city["city_lon"]).to_numpy(dtype=np.float64, na_value=np.nan),
    )  # fmt: skip


OFFICE_ATTRIBUTES = ("grade_rank", "age_years", "centre_km")


def _located_columns(
    located: pd.DataFrame, *, offices: pd.Series, names: tuple[pd.Index, pd.Index],
    blds: pd.DataFrame,
) -> pd.DataFrame:  # fmt: skip
    """Per enterprise of ``located`` (:func:`location_as_of`): its city and place codes in
    ``names``; its location (its own lat/lon, else its district's centroid, else its city's,
    from the reference coordinates); ``office_<attribute>``, the :data:`OFFICE_ATTRIBUTES` of
    the building of its latest tenancy (``offices``, :func:`latest_office`; NaN if it never had
    one: what a firm chose before reveals its taste for quality, newness, centrality); and
    ``fitting_buildings``, NaN until :func:`_fill_fitting_buildings`."""
    out = pd.DataFrame(index=located.index)
    out["city_code"] = _positions(names[0], located["city"])
    out["place_code"] = _positions(names[1], _place(located))
    by_place, by_city = _by_place_and_city()
    for axis in ("lat", "lon"):
        centroid = _place(located).map(by_place[axis]).fillna(
            located["city"].map(by_city[f"city_{axis}"]))  # fmt: skip
        out[f"loc_{axis}"] = located[axis].astype("float64").fillna(centroid.astype("float64"))
    office = blds.reindex(pd.Index(offices.reindex(located.index)))
    for name in OFFICE_ATTRIBUTES:
        out[f"office_{name}"] = office[name].to_numpy(dtype=np.float64)
    out["fitting_buildings"] = np.nan
    return out


def _fill_fitting_buildings(
    ents_array: np.ndarray, columns: pd.Index, *, blds: pd.DataFrame
) -> None:
    """Every enterprise's ``fitting_buildings`` (``features.pair.fitting_building_counts``),
    written into ``ents_array`` (columns ``columns``)."""
    ents_array[:, columns.get_loc("fitting_buildings")] = fitting_building_counts(
        ents_array[:, columns.get_loc("space_need_m2")],
        ents_array[:, columns.get_loc("city_code")],
        b_city=blds["city_code"].to_numpy(), vacant_m2=blds["vacant_area_m2"].to_numpy(),
        min_unit_m2=blds["min_unit_m2"].to_numpy(),
    )  # fmt: skip


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


def _relation_edges(snapshot: Snapshot, *, near: pd.Index | None = None) -> pd.DataFrame:
    """(enterprise position, partner position, relation, weight), one row per direction seen
    from the enterprise; a missing link weight counts as 1. ``near``: only the links with an
    end among these enterprise ids."""
    index = snapshot.enterprises.index
    links = snapshot.links
    if near is not None:
        links = links[links["source_id"].isin(near) | links["target_id"].isin(near)]
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
    snapshot: Snapshot, *, tenants: sparse.csr_array, edges: pd.DataFrame | None = None
) -> dict[str, sparse.csr_array]:
    """Per relation, (n_ent, n_bld) partners currently in each building: counts of distinct
    partners, and under ``weight`` the sum over partners of their strongest link weight;
    ``edges``: only these of :func:`_relation_edges` (the other rows empty)."""
    edges = _relation_edges(snapshot) if edges is None else edges
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


def side_block(
    ctx: FeatureContext, *, prefix: str, rows: np.ndarray | None = None
) -> np.ndarray:
    """float32 (rows of the side, features of the side) values of every ``e__`` (or ``b__``)
    feature for every enterprise (or building) of ``ctx`` (``rows``: for those positions
    only, in their order), by the registry's own functions, in blocks of :data:`SIDE_CHUNK`
    rows joined to the other side's first row (a side's features never read the other side);
    NaN when the other side is empty."""
    features = SIDE_FEATURES[prefix]
    enterprise_side = prefix == "e__"
    n = len(ctx.enterprises) if enterprise_side else len(ctx.buildings)
    n_other = len(ctx.buildings) if enterprise_side else len(ctx.enterprises)
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    block = np.full((len(rows), len(features)), np.nan, dtype=np.float32)
    if not n_other:
        return block
    for start in range(0, len(rows), SIDE_CHUNK):
        at = slice(start, min(len(rows), start + SIDE_CHUNK))
        own = rows[at]
        fixed = np.zeros(len(own), np.int64)
        b_pos, e_pos = (fixed, own) if enterprise_side else (own, fixed)
        joined = join_positions(b_pos, e_pos, ctx, index=pd.RangeIndex(len(own)))
        for j, f in enumerate(features):
            block[at, j] = f.fn(joined, ctx).to_numpy(dtype=np.float32)
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


def fill_move_hazard(ctx: FeatureContext, *, rows: np.ndarray | None = None) -> None:
    """Write the move hazard of the context's vocabulary (if any) for every enterprise (or the
    positions ``rows``) into its ``move_hazard`` attribute and its e__move_hazard value, in
    place: call it on a new context, before it is shared."""
    hazard = ctx.vocab.hazard
    rows = np.arange(len(ctx.enterprises)) if rows is None else rows
    if hazard is None or not len(rows):
        return
    inputs = enterprise_features(ctx, hazard.inputs)
    if len(rows) < len(inputs):
        inputs = inputs.iloc[rows]
    values = np.asarray(hazard.predict(inputs), np.float64)
    ctx.enterprise_array[rows, ctx.enterprises.columns.get_loc(HAZARD_COLUMN)] = values
    e_features = [f.name for f in SIDE_FEATURES["e__"]]
    ctx.enterprise_block[rows, e_features.index(HAZARD_FEATURE)] = values.astype(np.float32)


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
