"""The model store: immutable versions, a CURRENT pointer, hashes checked on every load.

Layout::

    store/CURRENT                       the served version id (one line)
    store/versions/<version>/manifest.json
    store/versions/<version>/model.txt | model.joblib   (none for stateless baselines)
    store/versions/<version>/<attachment>               (extra files, e.g. prescorer.joblib)
    store/versions/<version>/rejected.json              (only if the promotion gate said no)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import sklearn

from tenantmatch.models.errors import CorruptModelError, IncompatibleModelError, ModelStoreError
from tenantmatch.models.factory import make_scorer
from tenantmatch.models.scorers import Scorer

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
REJECTED = "rejected.json"
CURRENT = "CURRENT"
VERSIONS = "versions"
RESERVED_KEYS = (
    "version", "created", "kind", "feature_names", "feature_spec_fingerprint", "params",
    "vocabulary", "data_fingerprint", "metrics", "libraries", "files", "attachments",
)  # fmt: skip


@dataclass(frozen=True)
class LoadedModel:
    """A verified model from the store: its version id, a ready scorer, its manifest and the
    bytes of its attachments (extra files stored beside the model, hashes checked)."""

    version: str
    scorer: Scorer
    manifest: dict[str, Any]
    attachments: Mapping[str, bytes] = field(default_factory=dict)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries a stored model depends on."""
    return {
        "lightgbm": lightgbm.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }


def _json_default(value: Any) -> Any:
    """numpy/pandas values as plain JSON (training passes metric frames' records through)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    raise ModelStoreError(
        f"manifest value {value!r} of type {type(value).__name__} is not JSON-serialisable; "
        "allowed: JSON types, numpy scalars and arrays, datetimes"
    )


def _dumps(obj: Any, *, indent: int | None = None) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=indent, default=_json_default)


def _utc_iso(created: datetime) -> str:
    if created.tzinfo is None or created.utcoffset() is None:
        raise ModelStoreError(
            f"created must be a timezone-aware datetime, got naive {created.isoformat()}"
        )
    return created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def version_id(created: datetime, content_hash: str) -> str:
    """``YYYY-MM-DDTHH-MM-SSZ-<6 hex>`` from the UTC creation time and a content hash."""
    return _utc_iso(created).replace(":", "-") + "-" + content_hash[:6]


def _versions_dir(store: Path, *, must_exist: bool = True) -> Path:
    store = Path(store)
    if must_exist and not store.is_dir():
        raise ModelStoreError(f"model store {store} does not exist; train a model first")
    return store / VERSIONS


def _version_dir(store: Path, version: str) -> Path:
    folder = _versions_dir(store) / version
    if not version or "/" in version or version.startswith(".") or not folder.is_dir():
        known = [v["version"] for v in list_versions(store)] if Path(store).is_dir() else []
        raise ModelStoreError(
            f"model version {version!r} not found in {store}; known versions: {known[-5:]}"
        )
    return folder


def _write_atomic(path: Path, text: str) -> None:
    """Replace path with text atomically: temp file, flush+fsync, os.replace, fsync the dir."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _manifest(
    scorer: Scorer, *, created: str, files: dict[str, str], fields: dict[str, Any]
) -> dict[str, Any]:
    extra = dict(fields.pop("manifest_extra") or {})
    clash = sorted(set(extra) & set(RESERVED_KEYS))
    if clash:
        raise ModelStoreError(f"manifest_extra may not set reserved keys {clash}")
    return {
        "created": created,
        "kind": scorer.name,
        "feature_names": list(scorer.feature_names_),
        "params": scorer.get_params(),
        **fields,
        "libraries": library_versions(),
        "files": files,
        **extra,
    }


def save_version(
    store: Path,
    scorer: Scorer,
    *,
    created: datetime,
    manifest_extra: Mapping[str, Any] | None = None,
    vocabulary: Mapping[str, Any] | None = None,
    feature_spec_fingerprint: str | None = None,
    data_fingerprint: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    attachments: Mapping[str, bytes] | None = None,
) -> str:
    """Store a fitted scorer as a new immutable version (a candidate) and return its id.

    ``created`` must be timezone-aware; all other values must be JSON-serialisable.
    ``attachments`` (file name -> bytes) are stored beside the model and hashed like it.
    """
    versions = _versions_dir(store, must_exist=False)
    versions.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=versions, prefix=".staging-"))
    try:
        names = scorer.save_state(staging)
        extra = _write_attachments(staging, dict(attachments or {}), taken=set(names))
        files = {name: sha256_file(staging / name) for name in [*names, *extra]}
        fields = {
            "feature_spec_fingerprint": feature_spec_fingerprint,
            "vocabulary": dict(vocabulary or {}),
            "data_fingerprint": data_fingerprint,
            "metrics": dict(metrics or {}),
            "attachments": extra,
            "manifest_extra": manifest_extra,
        }
        manifest = _manifest(scorer, created=_utc_iso(created), files=files, fields=fields)
        body = _dumps(manifest)
        version = version_id(created, hashlib.sha256(body.encode()).hexdigest())
        return _publish(staging, versions / version, {"version": version, **manifest})
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_attachments(
    staging: Path, attachments: dict[str, bytes], *, taken: set[str]
) -> list[str]:
    """Write each attachment into the staging folder; its name must be a plain new file name."""
    for name, data in attachments.items():
        bad = not name or "/" in name or name.startswith(".") or name in (MANIFEST, REJECTED)
        if bad or name in taken:
            raise ModelStoreError(
                f"attachment name {name!r} invalid; allowed: a plain file name other than "
                f"{sorted({MANIFEST, REJECTED, *taken})}"
            )
        (staging / name).write_bytes(bytes(data))
    return sorted(attachments)


def _publish(staging: Path, target: Path, manifest: dict[str, Any]) -> str:
    """Write the manifest, make files read-only and rename the staging folder into place."""
    if target.exists():
        logger.info("model version %s already stored with identical content", target.name)
        return target.name
    text = _dumps(manifest, indent=2) + "\n"
    (staging / MANIFEST).write_text(text, encoding="utf-8")
    for path in staging.iterdir():
        with path.open("rb") as fh:
            os.fsync(fh.fileno())
        path.chmod(0o444)
    _fsync_dir(staging)
    staging.rename(target)
    _fsync_dir(target.parent)
    logger.info("stored model version %s (%s)", target.name, manifest["kind"])
    return target.name


def read_manifest(store: Path, version: str) -> dict[str, Any]:
    """The manifest of a stored version; CorruptModelError if it is not a JSON object."""
    path = _version_dir(store, version) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptModelError(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise CorruptModelError(f"{path}: manifest must be a JSON object with a 'files' mapping")
    return manifest


def verify_files(store: Path, version: str, manifest: Mapping[str, Any]) -> None:
    """Check every file listed in the manifest against its sha256; raises CorruptModelError."""
    folder = _version_dir(store, version)
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise CorruptModelError(f"{path}: listed in the manifest but missing")
        actual = sha256_file(path)
        if actual != expected:
            raise CorruptModelError(
                f"{path}: sha256 {actual[:12]}... does not match the manifest's {expected[:12]}..."
            )


def load_version(store: Path, version: str) -> LoadedModel:
    """Load and verify one stored version; CorruptModelError names the bad file."""
    folder = _version_dir(store, version)
    manifest = read_manifest(store, version)
    verify_files(store, version, manifest)
    try:
        scorer = make_scorer(manifest["kind"], **manifest["params"])
        scorer.load_state(folder, feature_names=manifest["feature_names"])
    except Exception as exc:  # any parse failure of a hashed file means the artifact is unusable
        names = ", ".join(manifest["files"]) or MANIFEST
        raise CorruptModelError(f"{folder}: cannot load {names}: {exc}") from exc
    _warn_library_drift(version, manifest)
    attachments = _read_attachments(folder, manifest)
    return LoadedModel(version=version, scorer=scorer, manifest=manifest, attachments=attachments)


def _read_attachments(folder: Path, manifest: Mapping[str, Any]) -> dict[str, bytes]:
    """Bytes of every attachment, each checked against its manifest hash as read."""
    out = {}
    for name in manifest.get("attachments") or []:
        data = (folder / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != manifest["files"].get(name):
            raise CorruptModelError(f"{folder / name}: sha256 does not match the manifest")
        out[name] = data
    return out


def _warn_library_drift(version: str, manifest: Mapping[str, Any]) -> None:
    saved = manifest.get("libraries", {})
    for lib, now in library_versions().items():
        if lib in ("lightgbm", "sklearn") and saved.get(lib) not in (None, now):
            logger.warning(
                "model %s was saved with %s %s, running %s", version, lib, saved[lib], now
            )


def current_version(store: Path) -> str | None:
    """The version id CURRENT points to, or None if nothing was promoted yet."""
    _versions_dir(store)
    path = Path(store) / CURRENT
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8").strip() or None


def promote(store: Path, version: str) -> None:
    """Make version the served one by replacing CURRENT atomically; its files must verify."""
    folder = _version_dir(store, version)
    if (folder / REJECTED).exists():
        raise ModelStoreError(f"model version {version} was rejected and cannot be promoted")
    verify_files(store, version, read_manifest(store, version))
    _write_atomic(Path(store) / CURRENT, version + "\n")
    logger.info("promoted model version %s", version)


def reject(store: Path, version: str, reason: str, *, at: datetime | None = None) -> None:
    """Record in the version folder that the promotion gate refused it, and why."""
    folder = _version_dir(store, version)
    if current_version(store) == version:
        raise ModelStoreError(f"model version {version} is CURRENT; promote another one first")
    record = {"version": version, "reason": reason, "at": _utc_iso(at) if at else None}
    _write_atomic(folder / REJECTED, json.dumps(record, ensure_ascii=False, indent=2) + "\n")
    logger.info("rejected model version %s: %s", version, reason)


def _status(folder: Path, current: str | None) -> tuple[str, str | None]:
    if folder.name == current:
        return "current", None
    rejected = folder / REJECTED
    if rejected.is_file():
        try:
            return "rejected", json.loads(rejected.read_text(encoding="utf-8")).get("reason")
        except (OSError, json.JSONDecodeError):
            return "rejected", None
    return "candidate", None


def list_versions(store: Path) -> list[dict[str, Any]]:
    """Every stored version, oldest first: version, created, kind, metrics, status
    (current/rejected/candidate), reason (for rejected) and, if unreadable, error."""
    versions = _versions_dir(store)
    current = current_version(store)
    out = []
    folders = sorted(p for p in versions.iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder in folders:
        status, reason = _status(folder, current)
        row: dict[str, Any] = {"version": folder.name, "status": status, "reason": reason}
        try:
            manifest = read_manifest(store, folder.name)
            row |= {k: manifest.get(k) for k in ("created", "kind", "metrics", "data_fingerprint")}
        except CorruptModelError as exc:
            row["error"] = str(exc)
        out.append(row)
    return out


def load_current(store: Path, *, previous: LoadedModel | None = None) -> LoadedModel:
    """The verified CURRENT model. If it is missing or corrupt, log it and return ``previous``
    (the old model keeps serving) when given, else raise ModelStoreError/CorruptModelError."""
    try:
        version = current_version(store)
        if version is None:
            raise ModelStoreError(f"model store {store} has no CURRENT model; promote one first")
        if previous is not None and previous.version == version:
            return previous
        return load_version(store, version)
    except ModelStoreError as exc:
        if previous is None:
            raise
        logger.error("cannot load the current model, keeping %s: %s", previous.version, exc)
        return previous


FEATURE_SET_KEY = "feature_set"  # manifest key: the named feature set X is built with
DEFAULT_FEATURE_SET = "ranker"  # models stored before feature sets existed used the ranker's


def feature_set_of(manifest: Mapping[str, Any]) -> str:
    """The name of the feature set (``features.FEATURE_SETS``) a stored model scores X of."""
    return str(manifest.get(FEATURE_SET_KEY) or DEFAULT_FEATURE_SET)


def check_compatible(
    manifest: Mapping[str, Any],
    *,
    feature_names: Sequence[str],
    feature_spec_fingerprint: str | None = None,
) -> None:
    """Raise IncompatibleModelError unless the model's features equal the caller's."""
    saved = list(manifest.get("feature_names", []))
    if saved != list(feature_names):
        diff = sorted(set(saved) ^ set(feature_names))[:5]
        raise IncompatibleModelError(
            f"model {manifest.get('version')} expects {len(saved)} features, the current spec "
            f"has {len(feature_names)}; differing or reordered names include {diff}"
        )
    saved_fp = manifest.get("feature_spec_fingerprint")
    if feature_spec_fingerprint is not None and saved_fp not in (None, feature_spec_fingerprint):
        raise IncompatibleModelError(
            f"model {manifest.get('version')} was trained on feature spec {saved_fp}, "
            f"the current spec is {feature_spec_fingerprint}; retrain the model"
        )
