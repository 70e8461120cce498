"""The model store: round trips, manifest hashes, atomic promotion, corrupt models refused."""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from tenantmatch.models import (
    SCORERS,
    BlendScorer,
    CorruptModelError,
    IncompatibleModelError,
    LGBMRankerScorer,
    ModelStoreError,
    Scorer,
    artifact,
    check_compatible,
    current_version,
    list_versions,
    load_current,
    load_version,
    make_scorer,
    promote,
    read_manifest,
    reject,
    save_version,
)
from tests.models.conftest import World

CREATED = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
SETTINGS = {"lightgbm": {"num_boost_round": 20, "min_data_in_leaf": 10}}


def _fitted(name: str, world: World) -> Scorer:
    if name == BlendScorer.name:  # built from fitted parts, never fitted on rows
        parts = [_fitted(kind, world) for kind in ("lightgbm", "lightgbm_binary")]
        return BlendScorer.of(parts, reference=world.X)
    return make_scorer(name, **SETTINGS.get(name, {})).fit(world.X, world.y, group=world.group)


def _save(store: Path, scorer: Scorer, *, created: datetime = CREATED) -> str:
    return save_version(
        store,
        scorer,
        created=created,
        vocabulary={"industry": ["64", "65"]},
        feature_spec_fingerprint="spec-1",
        data_fingerprint="data-1",
        metrics={"ndcg@10": 0.5},
        manifest_extra={"split": {"train_end": "2026-06-30"}},
    )


def _corrupt(path: Path, text: str) -> None:
    path.chmod(0o644)
    path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def ranker(small_world: World) -> Scorer:
    return _fitted("lightgbm", small_world)


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_round_trip_gives_identical_scores(
    name: str, tmp_path: Path, small_world: World, other_world: World
) -> None:
    scorer = _fitted(name, small_world)
    version = _save(tmp_path, scorer)
    loaded = load_version(tmp_path, version)
    assert loaded.version == version and loaded.scorer.name == name
    np.testing.assert_array_equal(loaded.scorer.score(other_world.X), scorer.score(other_world.X))


def test_manifest_records_hashes_and_provenance(tmp_path: Path, ranker: Scorer) -> None:
    version = _save(tmp_path, ranker)
    assert re.fullmatch(r"2026-11-25T10-00-00Z-[0-9a-f]{6}", version)
    folder = tmp_path / "versions" / version
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    digest = hashlib.sha256((folder / "model.txt").read_bytes()).hexdigest()
    assert manifest["files"] == {"model.txt": digest}
    assert manifest["version"] == version and manifest["kind"] == "lightgbm"
    assert manifest["created"] == "2026-11-25T10:00:00Z"
    assert manifest["feature_names"] == ranker.feature_names_
    assert manifest["params"]["num_boost_round"] == 20
    assert manifest["vocabulary"] == {"industry": ["64", "65"]}
    assert manifest["split"] == {"train_end": "2026-06-30"}
    assert set(manifest["libraries"]) == {"lightgbm", "sklearn", "numpy", "pandas", "python"}
    assert (folder / "model.txt").read_text().startswith("tree\n")  # LightGBM text, not pickle


def test_created_is_converted_to_utc_and_must_be_aware(tmp_path: Path, ranker: Scorer) -> None:
    beijing = CREATED.astimezone(timezone(timedelta(hours=8)))
    assert _save(tmp_path, ranker, created=beijing).startswith("2026-11-25T10-00-00Z-")
    with pytest.raises(ModelStoreError, match="timezone-aware"):
        _save(tmp_path, ranker, created=datetime(2026, 11, 25, 10))


def test_manifest_extra_cannot_override_reserved_keys(tmp_path: Path, ranker: Scorer) -> None:
    with pytest.raises(ModelStoreError, match=r"\['files'\]"):
        save_version(tmp_path, ranker, created=CREATED, manifest_extra={"files": {}})
    assert list((tmp_path / "versions").iterdir()) == []  # staging cleaned up


def test_promote_points_current_at_the_version(
    tmp_path: Path, ranker: Scorer, small_world: World
) -> None:
    first = _save(tmp_path, ranker)
    second = _save(tmp_path, _fitted("random", small_world))
    assert current_version(tmp_path) is None
    promote(tmp_path, first)
    promote(tmp_path, second)
    assert current_version(tmp_path) == second
    assert (tmp_path / "CURRENT").read_text() == second + "\n"
    statuses = {v["version"]: v["status"] for v in list_versions(tmp_path)}
    assert statuses == {first: "candidate", second: "current"}


def test_promote_is_atomic_when_replace_fails(
    tmp_path: Path, ranker: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _save(tmp_path, ranker)
    promote(tmp_path, first)
    other = _save(tmp_path, ranker, created=CREATED + timedelta(seconds=1))

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(artifact.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        promote(tmp_path, other)
    monkeypatch.setattr(artifact.os, "replace", os.replace)
    assert current_version(tmp_path) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CURRENT", "versions"]


def test_reject_records_reason_and_blocks_promotion(tmp_path: Path, ranker: Scorer) -> None:
    version = _save(tmp_path, ranker)
    reject(tmp_path, version, "NDCG@10 0.41 < current 0.45", at=CREATED)
    record = json.loads((tmp_path / "versions" / version / "rejected.json").read_text())
    assert record == {"version": version, "reason": "NDCG@10 0.41 < current 0.45",
                      "at": "2026-11-25T10:00:00Z"}  # fmt: skip
    [row] = list_versions(tmp_path)
    assert (row["status"], row["reason"], row["kind"]) == ("rejected", record["reason"], "lightgbm")
    with pytest.raises(ModelStoreError, match="rejected"):
        promote(tmp_path, version)


def test_missing_store_and_version_raise(tmp_path: Path, ranker: Scorer) -> None:
    with pytest.raises(ModelStoreError, match="does not exist"):
        load_current(tmp_path / "nowhere")
    version = _save(tmp_path, ranker)
    with pytest.raises(ModelStoreError, match=rf"'nope' not found.*{version}"):
        load_version(tmp_path, "nope")
    with pytest.raises(ModelStoreError, match="no CURRENT"):
        load_current(tmp_path)


def test_corrupted_model_is_refused_and_previous_keeps_serving(
    tmp_path: Path, ranker: Scorer, small_world: World
) -> None:
    old_version = _save(tmp_path, ranker)
    promote(tmp_path, old_version)
    old = load_current(tmp_path)
    assert load_current(tmp_path, previous=old) is old  # unchanged CURRENT: no reload
    new = _save(tmp_path, ranker, created=CREATED + timedelta(days=1))
    promote(tmp_path, new)
    model_txt = tmp_path / "versions" / new / "model.txt"
    _corrupt(model_txt, model_txt.read_text().replace("leaf_value=", "leaf_value=9", 1))
    with pytest.raises(CorruptModelError, match=r"model\.txt: sha256"):
        load_current(tmp_path)
    assert load_current(tmp_path, previous=old) is old


def test_unparsable_model_with_matching_hash_is_refused(tmp_path: Path, ranker: Scorer) -> None:
    version = _save(tmp_path, ranker)
    folder = tmp_path / "versions" / version
    _corrupt(folder / "model.txt", "not a lightgbm model\n")
    manifest = read_manifest(tmp_path, version)
    manifest["files"]["model.txt"] = hashlib.sha256(b"not a lightgbm model\n").hexdigest()
    _corrupt(folder / "manifest.json", json.dumps(manifest))
    with pytest.raises(CorruptModelError, match=r"cannot load model\.txt"):
        load_version(tmp_path, version)
    _corrupt(folder / "manifest.json", "{not json")
    with pytest.raises(CorruptModelError, match=r"manifest\.json: unreadable"):
        load_version(tmp_path, version)


def test_stored_files_are_read_only(tmp_path: Path, ranker: Scorer) -> None:
    folder = tmp_path / "versions" / _save(tmp_path, ranker)
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o444"}


def test_check_compatible(tmp_path: Path, ranker: Scorer) -> None:
    manifest = load_version(tmp_path, _save(tmp_path, ranker)).manifest
    names = list(ranker.feature_names_)
    check_compatible(manifest, feature_names=names, feature_spec_fingerprint="spec-1")
    with pytest.raises(IncompatibleModelError, match="pair__new"):
        check_compatible(manifest, feature_names=[*names, "pair__new"])
    with pytest.raises(IncompatibleModelError, match="spec-2"):
        check_compatible(manifest, feature_names=names, feature_spec_fingerprint="spec-2")


def test_loaded_ranker_keeps_contributions(tmp_path: Path, ranker: Scorer, small_world: World):
    loaded = load_version(tmp_path, _save(tmp_path, ranker)).scorer
    assert isinstance(loaded, LGBMRankerScorer) and isinstance(ranker, LGBMRankerScorer)
    np.testing.assert_array_equal(
        loaded.contributions(small_world.X), ranker.contributions(small_world.X)
    )


def test_manifest_accepts_numpy_values_and_refuses_objects(tmp_path: Path, ranker: Scorer):
    extra = {"rows": np.int64(7), "scores": np.array([0.5, 1.0])}
    manifest = load_version(tmp_path, save_version(
        tmp_path, ranker, created=CREATED, manifest_extra=extra)).manifest  # fmt: skip
    assert (manifest["rows"], manifest["scores"]) == (7, [0.5, 1.0])
    with pytest.raises(ModelStoreError, match=r"object.*not JSON-serialisable"):
        save_version(tmp_path, ranker, created=CREATED, manifest_extra={"bad": object()})
