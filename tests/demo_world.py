"""A demo world as the tests read it: generated, imported into SQLite, its tables loaded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tenantmatch.store import Repository, import_dataset
from tenantmatch.training.demo import WorldInfo, WorldParams, generate_world


def imported_tables(root: Path, params: WorldParams) -> tuple[dict[str, pd.DataFrame], WorldInfo]:
    """The tables of the demo world ``params`` generated under ``root`` (``demo/``) and
    imported into ``root / tm.db``, and where the world's files are (its truth among them)."""
    info = generate_world(root / "demo", params)
    repo = Repository(f"sqlite:///{root / 'tm.db'}")
    try:
        import_dataset(info.out_dir, repo)
        return repo.load_tables(), info
    finally:
        repo.close()
