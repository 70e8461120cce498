"""A write's feature context patched from the one before (``FeatureContext.patched``) equals the
context built whole from the new data, value for value, for every kind of write staff make;
and it refuses (None) what it cannot patch."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tenantmatch.features import FeatureContext, Vocabulary, enterprise_features
from tenantmatch.models import fit_move_hazard
from tenantmatch.registry import Registry, Snapshot, shanxi_districts
from tenantmatch.store import Repository
from tenantmatch.store.moves import move_in, move_out
from tenantmatch.store.updates import record_event, upsert_building, upsert_enterprise
from tenantmatch.training.demo import WorldParams
from tests.demo_world import imported_tables

AS_OF = pd.Timestamp("2026-10-31")
HAZARD_INPUTS = ["e__lease_end_12m", "e__credit_score", "e__fitting_buildings_in_city",
                 "e__events_12m", "e__in_building"]  # fmt: skip


@pytest.fixture(scope="module")
def world() -> tuple[Path, Vocabulary]:
    """A 400-firm demo world in SQLite, and a vocabulary with a move hazard (fitted to a made-up
    label: what matters here is that its inputs change with writes)."""
    tmp = Path(tempfile.mkdtemp(prefix="tm-patch-"))
    tables, _ = imported_tables(tmp, WorldParams(enterprises=400, seed=11))
    snapshot = Snapshot.at(Registry.from_tables(tables), AS_OF)
    vocab = Vocabulary.fit(snapshot)
    X = enterprise_features(FeatureContext.build(snapshot, vocab=vocab), HAZARD_INPUTS)
    rng = np.random.default_rng(0)
    fitted = fit_move_hazard(X, rng.uniform(size=len(X)) < 0.3, n_jobs=1)
    assert fitted is not None
    return tmp / "tm.db", vocab.with_hazard(fitted[0])


@pytest.fixture
def repo(world: tuple[Path, Vocabulary], tmp_path: Path) -> Repository:
    copy = tmp_path / "tm.db"
    copy.write_bytes(world[0].read_bytes())
    return Repository(f"sqlite:///{copy}")


def _assert_same(patched: FeatureContext, built: FeatureContext) -> None:
    """Every lookup and block of the two contexts holds the same values."""
    pd.testing.assert_frame_equal(patched.enterprises, built.enterprises)
    pd.testing.assert_frame_equal(patched.buildings, built.buildings)
    for name in ("enterprise_block", "building_block", "division_mix", "section_mix",
                 "theme_fit", "theme_prior", "building_array", "enterprise_array"):  # fmt: skip
        np.testing.assert_array_equal(getattr(patched, name), getattr(built, name), err_msg=name)
    for name, (mine, theirs) in _matrices(patched, built).items():
        assert isinstance(mine, sparse.csr_array)
        assert abs(mine - theirs).max() == 0, name
    np.testing.assert_array_equal(patched.sizes.keys, built.sizes.keys)
    assert patched.cities.equals(built.cities) and patched.places.equals(built.places)


def _matrices(a: FeatureContext, b: FeatureContext) -> dict[str, tuple[sparse.csr_array, ...]]:
    """The sparse lookups of both contexts, by name."""
    names = ("tenants", "prior_events", "last_event_days", "last_event_stage")
    out = {name: (getattr(a, name), getattr(b, name)) for name in names}
    return out | {f"partners {k}": (v, b.partners[k]) for k, v in a.partners.items()}


Step = tuple[FeatureContext | None, FeatureContext, Registry, int]


def _step(
    repo: Repository, ctx: FeatureContext, registry: Registry, version: int,
    write: Callable[[], object],
) -> Step:  # fmt: skip
    """Apply ``write``; (the patched context or None, the built one, registry, version)."""
    write()
    delta, rows = repo.changes_since(version)
    assert not delta.full and not delta.empty
    registry = registry.patched(rows, buildings=delta.buildings, enterprises=delta.enterprises)
    snapshot = Snapshot.at(registry, AS_OF)
    patched = FeatureContext.patched(ctx, snapshot, buildings=delta.buildings,
                                     enterprises=delta.enterprises)  # fmt: skip
    built = FeatureContext.build(snapshot, vocab=ctx.vocab)
    return patched, built, registry, delta.until


def _start(repo: Repository, vocab: Vocabulary) -> tuple[FeatureContext, Registry, int]:
    """The stored registry's context as of AS_OF, the registry and its data version."""
    registry = Registry.from_tables(repo.load_tables())
    version = repo.data_version()
    return FeatureContext.build(Snapshot.at(registry, AS_OF), vocab=vocab), registry, version


def _writes(repo: Repository, snapshot: Snapshot) -> list[Callable[[], object]]:
    """One of each write staff make: a current tenant moves (its old and new buildings, its
    partners' rows, its own attributes), an event, a building's vacancy and grade, a firm's
    size and credit, a new link to the tenant, the tenant's move-out."""
    ten = snapshot.tenancies[snapshot.tenancies["end_date"].isna()]
    tenant, home = str(ten["enterprise_id"].iloc[0]), str(ten["building_id"].iloc[0])
    other = str(snapshot.buildings.index[snapshot.buildings.index != home][0])
    linked = str(snapshot.links["source_id"].iloc[0])
    building = repo.get_row("buildings", {"building_id": other})
    firm = repo.get_row("enterprises", {"enterprise_id": linked})
    assert building is not None and firm is not None
    grade = "a" if building["grade"] == "c" else "c"
    event = {"enterprise_id": linked, "building_id": other, "date": "2026-10-25",
             "stage": "visited"}  # fmt: skip
    link = pd.DataFrame({"source_id": [tenant], "target_id": [linked], "relation": ["partners"],
                         "weight": [0.5]})  # fmt: skip

    def moves_in() -> object:
        return move_in(repo, enterprise_id=tenant, building_id=other, start_date="2026-10-20",
                       area_m2=1.0)  # fmt: skip

    return [
        moves_in,
        lambda: record_event(repo, event),
        lambda: upsert_building(repo, {**building, "vacant_area_m2": 25.0, "grade": grade}),
        lambda: upsert_enterprise(repo, {**firm, "employees": 4321, "credit_score": 12.0}),
        lambda: repo.upsert({"links": link}),
        lambda: move_out(repo, enterprise_id=tenant, building_id=other, end_date="2026-10-28"),
    ]


def test_every_kind_of_write_patches_to_the_context_a_build_gives(
    repo: Repository, world: tuple[Path, Vocabulary]
) -> None:
    ctx, registry, version = _start(repo, world[1])
    writes = _writes(repo, Snapshot.at(registry, AS_OF))
    changed = 0
    for write in writes:
        patched, built, registry, version = _step(repo, ctx, registry, version, write)
        assert patched is not None
        _assert_same(patched, built)
        same = np.array_equal(ctx.enterprise_array, patched.enterprise_array, equal_nan=True)
        same &= all(abs(old - new).max() == 0 for old, new in _matrices(ctx, patched).values())
        changed += not same
        ctx = patched
    assert changed == len(writes)  # each write did change what the features read


def test_a_new_firm_or_a_new_district_is_not_patched(
    repo: Repository, world: tuple[Path, Vocabulary]
) -> None:
    ctx, registry, version = _start(repo, world[1])
    firm = repo.get_row("enterprises", {"enterprise_id": str(registry.enterprises.index[0])})
    assert firm is not None
    new = {**firm, "enterprise_id": "91140100MA0NEWFIRM"}
    patched, ctx, registry, version = _step(repo, ctx, registry, version,
                                            lambda: upsert_enterprise(repo, new))  # fmt: skip
    assert patched is None  # the enterprises' positions moved
    ref = shanxi_districts()
    elsewhere = ref[~(ref["city"] + "|" + ref["district"]).isin(list(ctx.places))].iloc[0]
    row = repo.get_row("buildings", {"building_id": str(registry.buildings.index[0])})
    assert row is not None
    moved = {**row, "city": elsewhere["city"], "district": elsewhere["district"]}
    patched, *_ = _step(repo, ctx, registry, version, lambda: upsert_building(repo, moved))
    assert patched is None  # a district no building or firm was in before: codes move
