"""Temporal splits: the evaluation cut, training snapshot dates and their label windows.

All dates derive from the data (the latest dated row), never from the clock. A window is
half-open on the left: labels count events dated in ``(start, end]``; features read the
registry as of ``start``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from tenantmatch.training.errors import NotEnoughDataError

log = logging.getLogger(__name__)

# Columns holding the dates that say how far the history reaches.
_DATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("tenancies", "start_date"),
    ("tenancies", "end_date"),
    ("events", "date"),
)


@dataclass(frozen=True)
class Window:
    """Labels from ``(start, end]``; features from the snapshot as of ``start``."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def days(self) -> int:
        return int((self.end - self.start).days)

    def __str__(self) -> str:
        return f"({self.start.date()}, {self.end.date()}]"


@dataclass(frozen=True)
class TemporalSplit:
    """Training windows (oldest first), the validation window and the evaluation window."""

    cut: pd.Timestamp
    train: tuple[Window, ...]
    valid: Window
    evaluation: Window

    @property
    def fit_windows(self) -> tuple[Window, ...]:
        """Every window whose labels the models may see: training plus validation."""
        return (*self.train, self.valid)

    def describe(self) -> dict[str, object]:
        """JSON-friendly summary for manifests and reports."""
        return {
            "dated_by": "the data: the cut is its newest tenancy or event date minus the "
            "evaluation window, never today's date",
            "data_end": str(self.evaluation.end.date()),
            "cut": str(self.cut.date()),
            "train": [str(w) for w in self.train],
            "valid": str(self.valid),
            "evaluation": str(self.evaluation),
        }


def latest_date(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """Latest tenancy start/end or event date in the tables; raises when there is none."""
    found = []
    for table, column in _DATE_COLUMNS:
        frame = tables.get(table)
        if frame is not None and column in frame and len(frame):
            found.append(pd.to_datetime(frame[column]).max())
    found = [d for d in found if pd.notna(d)]
    if not found:
        raise NotEnoughDataError(
            "no dated rows in tenancies.start_date/end_date or events.date; "
            "a temporal split needs tenancy or event history"
        )
    return pd.Timestamp(max(found)).normalize()


def earliest_date(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """Earliest tenancy start or event date in the tables."""
    found = []
    for table, column in (("tenancies", "start_date"), ("events", "date")):
        frame = tables.get(table)
        if frame is not None and column in frame and len(frame):
            found.append(pd.to_datetime(frame[column]).min())
    found = [d for d in found if pd.notna(d)]
    return pd.Timestamp(min(found)).normalize() if found else latest_date(tables)


def make_split(
    tables: dict[str, pd.DataFrame],
    *,
    eval_months: int = 12,
    history_months: int = 36,
    step_months: int = 3,
    horizon_months: int = 6,
    cut: pd.Timestamp | None = None,
) -> TemporalSplit:
    """Cut T = latest date - ``eval_months`` (or ``cut`` when given: a demo world graded on
    the year after its registry ends); evaluation (T, T+eval]; validation
    (T - horizon, T]; training windows every ``step_months`` over ``history_months`` before T,
    each ending no later than the validation start so no training label overlaps validation."""
    for name, value in (
        ("eval_months", eval_months),
        ("history_months", history_months),
        ("step_months", step_months),
        ("horizon_months", horizon_months),
    ):
        if value <= 0:
            raise NotEnoughDataError(f"{name}={value} is not allowed; it must be > 0 months")
    if cut is None:
        cut = latest_date(tables) - pd.DateOffset(months=eval_months)
    cut = pd.Timestamp(cut)
    evaluation = Window(cut, cut + pd.DateOffset(months=eval_months))
    valid = Window(cut - pd.DateOffset(months=horizon_months), cut)
    first = max(cut - pd.DateOffset(months=history_months), earliest_date(tables))
    train: list[Window] = []
    start = valid.start - pd.DateOffset(months=horizon_months)
    while start >= first:
        end = min(start + pd.DateOffset(months=horizon_months), valid.start)
        train.append(Window(start, end))
        start = start - pd.DateOffset(months=step_months)
    if not train:
        raise NotEnoughDataError(
            f"history from {first.date()} to the cut {cut.date()} is too short for one "
            f"training window of {horizon_months} months before the validation window "
            f"{valid}; at least {eval_months + 2 * horizon_months} months of history are needed"
        )
    split = TemporalSplit(cut, tuple(reversed(train)), valid, evaluation)
    log.info("temporal split: %s", split.describe())
    return split


def shift_split(split: TemporalSplit, *, months: int) -> TemporalSplit:
    """``split`` with the cut and every window moved ``months`` later: the same settings on
    windows reaching ``months`` further (a refit whose last window ends at the data's end;
    its evaluation window then lies past the data and is not used)."""
    offset = pd.DateOffset(months=months)

    def moved(w: Window) -> Window:
        return Window(w.start + offset, w.end + offset)

    return TemporalSplit(
        split.cut + offset, tuple(moved(w) for w in split.train), moved(split.valid),
        moved(split.evaluation),
    )  # fmt: skip
