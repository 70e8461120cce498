"""Browser-test fixtures: a small demo world with a quickly trained model, served by a real
``tenantmatch serve`` process on a free port, and Debian's chromium driven by Playwright.

Without /usr/bin/chromium the browser tests are skipped, except in CI (``CI=true``), where
they fail: ``.ci/run`` installs chromium and fonts-wqy-zenhei.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenantmatch.store import Repository, create_key, import_dataset
from tenantmatch.training import TrainConfig, train_and_publish
from tenantmatch.training.demo import WorldParams, generate_world
from tests.api.conftest import free_port, serve_command, wait_ready

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
N_ENTERPRISES = 600
SEED = 5
# A weak ranker served as fitted: the page needs a model quickly, not a good one.
QUICK_MODEL = TrainConfig(
    max_queries=40, ranker_params={"num_boost_round": 6, "num_leaves": 7},
    candidates=("lightgbm",), refit=False, distill=False,
)  # fmt: skip
# Screenshots go to a temporary folder unless this names one (the committed ones in
# benchmarks/results/screenshots were made with it set to that folder).
SHOTS_ENV = "TENANTMATCH_WEB_SHOTS"


def chromium_or_skip() -> Path:
    """Debian's chromium, or a skip (a failure under CI=true) naming what is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"{CHROMIUM} is absent (apt-get install chromium fonts-wqy-zenhei; .ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser tests: {reason}")
    pytest.skip(reason)


def build_world(root: Path, *, enterprises: int = N_ENTERPRISES, seed: int = SEED,
                buildings: int | None = None, train: bool = True) -> str:  # fmt: skip
    """A demo world imported into ``root/web.db`` (and a model in ``root/store`` if ``train``);
    returns the database URL."""
    info = generate_world(root / "dataset", WorldParams(enterprises=enterprises, seed=seed,
                                                        buildings=buildings))  # fmt: skip
    db = f"sqlite:///{root / 'web.db'}"
    repo = Repository(db)
    import_dataset(root / "dataset", repo)
    if train:
        result = train_and_publish(
            repo.load_tables(), store=root / "store", truth_dir=info.truth_dir,
            created=datetime.now(UTC).replace(microsecond=0), progress=False, config=QUICK_MODEL,
        )  # fmt: skip
        assert result.promoted, result.reason
    repo.close()
    return db


@dataclass
class Server:
    """A running ``tenantmatch serve`` and keys of each role."""

    process: subprocess.Popen[bytes]
    base: str
    db: str
    keys: dict[str, str] = field(default_factory=dict)

    def get(self, path: str, role: str = "admin", **params: Any) -> Any:
        answer = httpx.get(f"{self.base}{path}", params=params,
                           headers={"X-API-Key": self.keys[role]}, timeout=60)  # fmt: skip
        answer.raise_for_status()
        return answer.json()


def start_server(db: str, models: Path, log: Path, *, ready_path: str = "/readyz") -> Server:
    """``tenantmatch serve --workers 1`` on a free port, waited for until ``ready_path`` is 200."""
    port = free_port()
    env = {**os.environ, "TENANTMATCH_COMPILE_TREES": "false",
           "TENANTMATCH_JOBS_DIR": str(log.parent / "jobs")}  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(serve_command(port, workers=1, db=db, models=models), env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, timeout_s=180, path=ready_path)
    except AssertionError as exc:
        stop_server(process)
        raise AssertionError(f"{exc}: {log.read_text()[-2000:]}") from exc
    return Server(process, base, db)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def add_keys(server: Server) -> None:
    """An admin, a viewer and an operator key (the operator of the most buildings)."""
    repo = Repository(server.db)
    now = datetime.now(UTC)
    operator = str(repo.load_table("buildings")["operator_id"].dropna().value_counts().index[0])
    server.keys = {
        "admin": create_key(repo, role="admin", created=now),
        "viewer": create_key(repo, role="viewer", created=now),
        "operator": create_key(repo, role="operator", operator_id=operator, created=now),
    }
    repo.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo world served for the whole browser-test session."""
    chromium_or_skip()
    root = tmp_path_factory.mktemp("web_world")
    db = build_world(root)
    served = start_server(db, root / "store", root / "server.log")
    add_keys(served)
    yield served
    stop_server(served.process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian chromium under Playwright."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save a PNG of each view: ``$TENANTMATCH_WEB_SHOTS`` or a temporary folder."""
    chosen = os.environ.get(SHOTS_ENV)
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
