"""API test fixtures: a small demo world imported into SQLite and a model trained once per session;
each test module (or test) then serves a private copy of that database through the real app."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tenantmatch.api import Settings, create_app
from tenantmatch.store import (
    Repository,
    create_key,
    import_dataset,
    upsert_building,
    upsert_enterprise,
)
from tenantmatch.training import TrainConfig, train_and_publish
from tenantmatch.training.demo import WorldParams, generate_world

N_ENTERPRISES = 800
SEED = 11
# A quick, deliberately modest model: the retraining test's full run must beat it to be promoted.
# A weak ranker, served as it was fitted (no plain candidate, refit or distillation): the API
# tests need a model quickly, and its reasons come from the ranker's features.
WEAK_MODEL = TrainConfig(
    max_queries=60, ranker_params={"num_boost_round": 8, "num_leaves": 7},
    candidates=("lightgbm",), refit=False, distill=False,
)  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "schemathesis: fuzzes the served OpenAPI schema with schemathesis (minutes)"
    )


def free_port() -> int:
    """A loopback port nobody listens on now, for a real server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(
    base: str, server: subprocess.Popen[bytes], *, timeout_s: float = 60, path: str = "/readyz"
) -> None:
    """Until the real server at ``base`` answers ``path`` (/readyz: data and model loaded) with
    200 (it must not exit first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited before it was ready"
        try:
            if httpx.get(f"{base}{path}", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the service did not become ready within {timeout_s} s")


@dataclass(frozen=True)
class Served:
    """A real ``tenantmatch serve`` process over a copy of the world, and a key to call it with."""

    process: subprocess.Popen[bytes]
    base: str
    port: int
    key: str
    building: str
    shared: Path  # the folder of the workers' shared answers


def serve_command(port: int, *, workers: int, db: str, models: Path) -> list[str]:
    """The ``tenantmatch serve`` command line of this environment's console script."""
    tool = str(Path(sys.executable).parent / "tenantmatch")
    return [tool, "serve", "--port", str(port), "--workers", str(workers), "--db", db,
            "--models", str(models)]  # fmt: skip


@contextmanager
def tenantmatch_serve(
    world: World, tmp: Path, *, workers: int = 2, role: str = "viewer", copy_models: bool = False
) -> Iterator[Served]:
    """``tenantmatch serve --workers N`` over a copy of the world's database (and, if asked,
    of its model store) on a free port until ready, with a key of ``role``; SIGTERM to the
    server process when the block ends (it stops its workers; a SIGTERM to the whole session
    would make uvicorn's manager replace the workers it kills before it reads its own), waiting
    for the exit (the caller checks ``process.returncode``); SIGKILL to the session if it does
    not exit."""
    shutil.copy(world.db_file, tmp / "service.db")
    db = f"sqlite:///{tmp / 'service.db'}"
    models = world.models
    if copy_models:
        models = tmp / "store"
        shutil.copytree(world.models, models)
    repo = Repository(db)
    key = create_key(repo, role=role, created=datetime.now(UTC))
    building = str(repo.load_table("buildings")["building_id"].iloc[0])
    repo.close()
    shared, port = tmp / "shared", free_port()
    env = {**os.environ, "TENANTMATCH_SHARED_CACHE_DIR": str(shared),
           "TENANTMATCH_JOBS_DIR": str(tmp / "jobs"),
           "TENANTMATCH_COMPILE_TREES": "false"}  # fmt: skip
    with (tmp / "server.log").open("wb") as log:
        server = subprocess.Popen(
            serve_command(port, workers=workers, db=db, models=models),
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, server, timeout_s=120)
            yield Served(server, base, port, key, building, shared)
        finally:
            with suppress(ProcessLookupError):  # a test may have stopped it already
                os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=120)
            finally:
                with suppress(ProcessLookupError):  # workers left behind, if any
                    os.killpg(server.pid, signal.SIGKILL)


@dataclass(frozen=True)
class World:
    """The session's template: a database file, a model store and the demo folder."""

    db_file: Path
    models: Path
    folder: Path
    version: str


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("api_world")
    folder = root / "dataset"
    info = generate_world(folder, WorldParams(enterprises=N_ENTERPRISES, seed=SEED))
    db_file = root / "template.db"
    repo = Repository(f"sqlite:///{db_file}")
    import_dataset(folder, repo)
    result = train_and_publish(
        repo.load_tables(), store=root / "store", truth_dir=info.truth_dir,
        created=datetime.now(UTC).replace(microsecond=0), progress=False,
        config=WEAK_MODEL,
    )  # fmt: skip
    repo.close()
    assert result.promoted, result.reason
    return World(db_file=db_file, models=root / "store", folder=folder, version=result.version)


@dataclass
class Service:
    """One running app over a private copy of the world, with a key per caller kind."""

    client: TestClient
    repo: Repository
    settings: Settings
    keys: dict[str, str]
    own_operator: str
    other_operator: str
    own_building: str
    other_building: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        """Request headers of caller ``who`` (none, bad, viewer, op_own, op_other, admin)."""
        return {} if who == "none" else {"X-API-Key": self.keys[who]}

    def get(self, path: str, who: str = "admin", *, after: httpx.Response | int | None = None,
            **kwargs: object):  # type: ignore[no-untyped-def]  # fmt: skip
        """GET as ``who``; ``after``: a write's answer (or a data version) the answer must
        include (``X-Min-Data-Version``)."""
        headers = self.headers(who)
        if after is not None:
            version = after if isinstance(after, int) else after.headers["X-Data-Version"]
            headers["X-Min-Data-Version"] = str(version)
        return self.client.get(path, headers=headers, **kwargs)

    def fresh_building(self, operator_id: str, *, vacant: float = 5000.0) -> str:
        """A new building of ``operator_id`` in the first building's city, for destructive tests."""
        base = self.tables["buildings"].iloc[0]
        building_id = f"T{uuid.uuid4().hex[:10]}"
        upsert_building(self.repo, {
            "building_id": building_id, "name": f"测试大厦{building_id[-4:]}", "city": base["city"],
            "district": base["district"], "theme": "general", "total_area_m2": vacant * 2,
            "vacant_area_m2": vacant, "operator_id": operator_id,
        })  # fmt: skip
        return building_id

    def fresh_enterprise(self) -> str:
        """A new enterprise (no tenancy, no risk), for move-in tests."""
        enterprise_id = f"X{uuid.uuid4().hex[:12]}"
        city = self.tables["buildings"].iloc[0]["city"]
        upsert_enterprise(self.repo, {
            "enterprise_id": enterprise_id, "name": f"测试科技有限公司{enterprise_id[-4:]}",
            "industry_code": "65", "employees": 30, "city": city,
        })  # fmt: skip
        return enterprise_id


def start_service(
    world: World, tmp: Path, *, copy_models: bool = False, **settings: object
) -> Iterator[Service]:
    """Serve a copy of the world's database (and, if asked, of its model store) from ``tmp``."""
    db_file = tmp / "service.db"
    shutil.copy(world.db_file, db_file)
    models = world.models
    if copy_models:
        models = tmp / "store"
        shutil.copytree(world.models, models)
    config = Settings(
        db=f"sqlite:///{db_file}", models=models, jobs_dir=tmp / "jobs", json_logs=False, **settings
    )  # type: ignore[arg-type]
    repo = Repository(config.db)
    tables = {name: repo.load_table(name) for name in ("buildings", "enterprises")}
    ops = tables["buildings"]["operator_id"].dropna().value_counts().index
    own, other = str(ops[0]), str(ops[1])
    b = tables["buildings"]
    keys = {
        "bad": "tm_0123456789abcdef_" + "x" * 43,
        "viewer": create_key(repo, role="viewer", created=datetime.now(UTC)),
        "op_own": create_key(repo, role="operator", operator_id=own, created=datetime.now(UTC)),
        "op_other": create_key(repo, role="operator", operator_id=other, created=datetime.now(UTC)),
        "admin": create_key(repo, role="admin", created=datetime.now(UTC)),
    }
    pick = b.sort_values("vacant_area_m2", ascending=False)
    with TestClient(create_app(config)) as client:
        yield Service(
            client=client, repo=repo, settings=config, keys=keys, own_operator=own,
            other_operator=other,
            own_building=str(pick.loc[pick["operator_id"] == own, "building_id"].iloc[0]),
            other_building=str(pick.loc[pick["operator_id"] == other, "building_id"].iloc[0]),
            tables=tables,
        )  # fmt: skip
    repo.close()


@pytest.fixture(scope="module")
def service(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service shared by one test module (tests must not depend on each other's writes)."""
    yield from start_service(world, tmp_path_factory.mktemp("service"))


@pytest.fixture
def fresh_service(world: World, tmp_path: Path) -> Iterator[Service]:
    """A service of its own for one test that changes data."""
    yield from start_service(world, tmp_path)
