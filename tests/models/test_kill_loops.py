"""SIGKILL during model saving and promotion, at random points, many times: CURRENT always names
a complete version whose files verify, and every stored version loads (a killed save leaves at
most a hidden staging folder). The child says when it has
loaded, so every kill lands on saving and promoting, not on interpreter start-up."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tenantmatch.models import (
    current_version,
    list_versions,
    load_current,
    load_version,
    make_scorer,
    promote,
    save_version,
)
from tests.models.conftest import World

KILLS = 20
CREATED = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
# Saves and promotes new versions of the current model, one after another, until killed.
PROMOTE_FOREVER = """
import sys
from datetime import datetime, timedelta
from pathlib import Path
from tenantmatch.models import load_current, promote, save_version
store, i = Path(sys.argv[1]), int(sys.argv[2])
model = load_current(store)
start = datetime.fromisoformat(model.manifest["created"].replace("Z", "+00:00"))
print("ready", flush=True)
while True:
    i += 1
    version = save_version(store, model.scorer, created=start + timedelta(seconds=i),
                           metrics={"i": i})
    promote(store, version)
"""


def test_killed_promotions_leave_current_on_a_complete_version(
    small_world: World, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    scorer = make_scorer("lightgbm", num_boost_round=20, min_data_in_leaf=10)
    scorer.fit(small_world.X, small_world.y, group=small_world.group)
    promote(store, save_version(store, scorer, created=CREATED))
    rng = random.Random(21)
    seen_versions = set()
    for kill in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", PROMOTE_FOREVER, str(store), str((kill + 1) * 100_000)],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.3))  # a few saves and promotions, after start-up
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        version = current_version(store)
        assert version is not None
        seen_versions.add(version)
        assert load_current(store).version == version  # files verified against the manifest
        for row in list_versions(store):
            load_version(store, row["version"])  # every published version is whole
    assert len(seen_versions) > KILLS // 2  # the kills landed after progress, not before it
