"""Attraction events around the simulated moves: the chosen building's pipeline (contacted ->
visited -> negotiating -> signed), runner-ups that declined or stalled, and cold contacts.

In "lead" worlds the pipeline is logged as it runs, in the weeks before the start date, so a
move under way shows in the events before it happens; in "lag" worlds staff back-fill it after
the move, in the same order, ``LAG_DAYS`` later, so events never foretell a move."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tenantmatch.training.demo.params import Records

LAG_DAYS = 101  # "lag" worlds: a stage logged d days before the start is logged LAG_DAYS - d after
# (stage, probability it was logged, days before the start date: low, high)
WINNER_STAGES = (
    ("contacted", 0.8, 42, 90),
    ("visited", 0.85, 21, 42),
    ("negotiating", 0.75, 5, 21),
    ("signed", 0.95, 0, 5),
)
ALT_SHARE = (0.9, 0.6, 0.35)  # chance each runner-up (best first) was courted
STAGE_ORDER = {"contacted": 0, "visited": 1, "negotiating": 2, "signed": 3, "declined": 4}


def _frame(firm: np.ndarray, building: np.ndarray, date: np.ndarray, stage: str) -> pd.DataFrame:
    return pd.DataFrame({"firm": firm, "building": building, "date": date, "stage": stage})


def _days(rng: np.random.Generator, lo: int, hi: int, n: int) -> np.ndarray:
    return rng.integers(lo, hi + 1, n).astype("timedelta64[D]")


def _anchor(moves: pd.DataFrame, mode: str) -> np.ndarray:
    """The date stage offsets count back from: the start date ("lead") or LAG_DAYS after it."""
    d = moves["date"].to_numpy()
    return d if mode == "lead" else d + np.timedelta64(LAG_DAYS, "D")


def _winner_events(rng: np.random.Generator, moves: pd.DataFrame, mode: str) -> list[pd.DataFrame]:
    """The chosen building's pipeline, some stages unlogged."""
    f, b, d = moves["firm"].to_numpy(), moves["building"].to_numpy(), _anchor(moves, mode)
    out = []
    for stage, p, lo, hi in WINNER_STAGES:
        keep = rng.random(f.size) < p
        out.append(_frame(f[keep], b[keep], d[keep] - _days(rng, lo, hi, int(keep.sum())), stage))
    return out


def _runner_up_events(
    rng: np.random.Generator, moves: pd.DataFrame, mode: str
) -> list[pd.DataFrame]:
    """Runner-ups: contacted, often visited, then declined or stalled."""
    out = []
    f, d = moves["firm"].to_numpy(), _anchor(moves, mode)
    for i, share in enumerate(ALT_SHARE):
        b = moves[f"alt_{i + 1}"].to_numpy()
        keep = (b >= 0) & (rng.random(b.size) < share)
        fk, bk, dk, n = f[keep], b[keep], d[keep], int(keep.sum())
        out.append(_frame(fk, bk, dk - _days(rng, 42, 100, n), "contacted"))
        visited = rng.random(n) < 0.6
        out.append(
            _frame(
                fk[visited],
                bk[visited],
                dk[visited] - _days(rng, 21, 41, int(visited.sum())),
                "visited",
            )
        )
        declined = rng.random(n) < 0.55
        out.append(
            _frame(
                fk[declined],
                bk[declined],
                dk[declined] - _days(rng, 0, 20, int(declined.sum())),
                "declined",
            )
        )
    return out


def _cold_events(
    rng: np.random.Generator,
    n: int,
    *,
    firms: int,
    buildings: int,
    window: tuple[np.datetime64, np.datetime64],
) -> list[pd.DataFrame]:
    """Contacts with random firms that led nowhere: contacted, sometimes visited, often declined."""
    f = rng.integers(0, firms, n)
    b = rng.integers(0, buildings, n)
    span = int((window[1] - window[0]).astype(int))
    d = window[0] + rng.integers(0, max(span - 70, 1), n).astype("timedelta64[D]")
    visited = rng.random(n) < 0.35
    declined = rng.random(n) < 0.5
    return [
        _frame(f, b, d, "contacted"),
        _frame(
            f[visited], b[visited], d[visited] + _days(rng, 7, 30, int(visited.sum())), "visited"
        ),
        _frame(
            f[declined],
            b[declined],
            d[declined] + _days(rng, 31, 60, int(declined.sum())),
            "declined",
        ),
    ]


def draw_events(
    rng: np.random.Generator,
    moves: pd.DataFrame,
    *,
    n_firms: int,
    n_buildings: int,
    window: tuple[np.datetime64, np.datetime64],
    records: Records,
) -> pd.DataFrame:
    """Events with integer firm/building indices, date (datetime64[D], never after window[1]) and
    stage; unique on (firm, building, date, stage), sorted."""
    recorded = moves[rng.random(len(moves)) < records.recorded_share]
    n_cold = int(records.cold_per_move * len(recorded))
    mode = records.events
    parts = _winner_events(rng, recorded, mode) + _runner_up_events(rng, recorded, mode)
    parts += _cold_events(rng, n_cold, firms=n_firms, buildings=n_buildings, window=window)
    ev = pd.concat(parts, ignore_index=True)
    ev = ev[ev["date"] <= window[1]]
    ev = ev.assign(order=ev["stage"].map(STAGE_ORDER))
    ev = ev.drop_duplicates(["firm", "building", "date", "stage"])
    return (
        ev.sort_values(["date", "firm", "building", "order"], kind="stable")
        .drop(columns="order")
        .reset_index(drop=True)
    )
