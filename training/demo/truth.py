"""Hidden truth of a demo world: the true theme-industry affinity, the latent per-enterprise
variables and the parameters, kept in ``out_dir/_truth/`` (not part of the data contract)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tenantmatch.registry import InputError
from tenantmatch.training.demo import catalog as cat
from tenantmatch.training.demo.params import WorldParams

TRUTH_DIR = "_truth"
PARAMS_FILE = "params.json"
LATENT_FILE = "latent.parquet"
AFFINITY_FILE = "affinity.parquet"
BUILDINGS_FILE = "buildings.parquet"  # every column as drawn, also those the files leave out
HIDDEN_DIR = "hidden"  # tenancies and events through the hidden months (contract columns)


def true_affinity(rng: np.random.Generator, prior: pd.DataFrame) -> np.ndarray:
    """True theme x division fit, shape (themes, divisions) in catalog order: the documented prior
    (0-1) shrunk, plus hidden deviations and a few affinities the prior does not know."""
    wide = prior.pivot_table(index="theme", columns="division", values="weight", aggfunc="max")
    wide = wide.reindex(index=list(cat.THEMES), columns=list(cat.DIVISION_CODES)).fillna(0.0)
    p = wide.to_numpy(float)
    hidden = rng.normal(0.0, 0.25, p.shape)
    surprise = (rng.random(p.shape) < 0.06) * rng.uniform(0.5, 1.0, p.shape)
    return np.round(np.clip(0.6 * p + hidden + surprise, -0.5, 1.5), 4)


@dataclass(frozen=True)
class Truth:
    """What the generator knows and the data do not show."""

    params: WorldParams
    latent: pd.DataFrame  # one row per enterprise, enterprise_id first
    affinity: np.ndarray  # (themes, divisions) in catalog order
    buildings: pd.DataFrame | None = None  # None: a world written before the file existed


def write_truth(truth_dir: Path, truth: Truth) -> dict[str, Path]:
    """Write params JSON, latent, affinity and buildings Parquet into ``truth_dir``; returns
    their paths."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    names = (PARAMS_FILE, LATENT_FILE, AFFINITY_FILE, BUILDINGS_FILE)
    paths = {name: truth_dir / name for name in names}
    text = json.dumps(truth.params.to_json(), ensure_ascii=False, indent=2, sort_keys=True)
    paths[PARAMS_FILE].write_text(text + "\n", encoding="utf-8")
    truth.latent.to_parquet(paths[LATENT_FILE], index=False)
    themes, divisions = list(cat.THEMES), list(cat.DIVISION_CODES)
    long = pd.DataFrame(
        {
            "theme": np.repeat(themes, len(divisions)),
            "division": np.tile(divisions, len(themes)),
            "affinity": truth.affinity.ravel(),
        }
    )
    long.to_parquet(paths[AFFINITY_FILE], index=False)
    if truth.buildings is None:
        raise InputError("truth.buildings is None; write_truth needs the drawn buildings")
    truth.buildings.to_parquet(paths[BUILDINGS_FILE], index=False)
    return paths


def write_hidden(
    hidden_dir: Path,
    tables: dict[str, pd.DataFrame],
    *,
    write: Callable[[pd.DataFrame, Path], Path],
) -> dict[str, Path]:
    """Write the hidden months' ``tables`` (tenancies, events) as CSV with ``write``."""
    hidden_dir.mkdir(parents=True, exist_ok=True)
    return {name: write(frame, hidden_dir / f"{name}.csv") for name, frame in tables.items()}


def read_truth(truth_dir: Path) -> Truth:
    """Read what ``write_truth`` wrote; InputError when the folder is not a demo world's truth."""
    paths = [truth_dir / name for name in (PARAMS_FILE, LATENT_FILE, AFFINITY_FILE)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(
            f"truth_dir {truth_dir}: missing {missing}; expected a demo world's _truth/"
        )
    params = WorldParams.from_json(json.loads(paths[0].read_text(encoding="utf-8")))
    long = pd.read_parquet(paths[2])
    wide = long.pivot(index="theme", columns="division", values="affinity")
    wide = wide.reindex(index=list(cat.THEMES), columns=list(cat.DIVISION_CODES))
    buildings = truth_dir / BUILDINGS_FILE
    return Truth(
        params=params,
        latent=pd.read_parquet(paths[1]),
        affinity=wide.to_numpy(float),
        buildings=pd.read_parquet(buildings) if buildings.is_file() else None,
    )
