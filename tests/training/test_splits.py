"""Temporal splits derive from the data and never leak labels across the cut."""

from __future__ import annotations

import pandas as pd
import pytest

from tenantmatch.training.errors import NotEnoughDataError
from tenantmatch.training.splits import latest_date, make_split

D = pd.Timestamp


def _tables(first: str = "2019-01-01", last: str = "2025-06-30") -> dict[str, pd.DataFrame]:
    dates = pd.date_range(first, last, freq="MS")
    tenancies = pd.DataFrame(
        {"enterprise_id": "E", "building_id": "B", "start_date": dates, "end_date": pd.NaT}
    )
    events = pd.DataFrame(
        {"enterprise_id": "E", "building_id": "B", "date": [D(last)], "stage": ["visited"]}
    )
    return {"tenancies": tenancies, "events": events}


def test_cut_is_twelve_months_before_the_latest_date() -> None:
    split = make_split(_tables())
    assert latest_date(_tables()) == D("2025-06-30")
    assert split.cut == D("2024-06-30")
    assert (split.evaluation.start, split.evaluation.end) == (D("2024-06-30"), D("2025-06-30"))


def test_training_windows_never_reach_the_cut_or_the_validation_window() -> None:
    split = make_split(_tables())
    assert split.valid.end == split.cut
    for w in split.train:
        assert w.start < w.end <= split.valid.start  # labels strictly before validation
        assert w.start >= split.cut - pd.DateOffset(months=36)
    # features are read as of each window start, never after its labels
    assert all(w.start < w.end for w in split.fit_windows)


def test_training_snapshots_every_three_months() -> None:
    split = make_split(_tables(), step_months=3, horizon_months=6)
    starts = [w.start for w in split.train]
    assert starts == sorted(starts)
    assert starts[-1] == split.cut - pd.DateOffset(months=12)
    assert starts[0] == split.cut - pd.DateOffset(months=36)
    assert len(starts) == 9
    assert all(w.days in range(181, 185) for w in split.train)


def test_short_history_limits_the_training_windows() -> None:
    split = make_split(_tables(first="2022-09-01"))
    assert split.train[0].start >= D("2022-09-01")
    assert len(split.train) == 4


def test_too_short_history_is_an_error() -> None:
    with pytest.raises(NotEnoughDataError, match="too short"):
        make_split(_tables(first="2024-01-01"))


def test_no_dated_rows_is_an_error() -> None:
    with pytest.raises(NotEnoughDataError, match="no dated rows"):
        make_split({"tenancies": _tables()["tenancies"].iloc[:0]})


def test_bad_settings_name_the_value() -> None:
    with pytest.raises(NotEnoughDataError, match="step_months=0"):
        make_split(_tables(), step_months=0)


def test_shift_split_moves_the_cut_and_every_window() -> None:
    from tenantmatch.training.splits import TemporalSplit, Window, shift_split

    w = Window(pd.Timestamp("2022-01-15"), pd.Timestamp("2022-07-15"))
    v = Window(pd.Timestamp("2022-07-15"), pd.Timestamp("2023-01-15"))
    e = Window(pd.Timestamp("2023-01-15"), pd.Timestamp("2024-01-15"))
    moved = shift_split(TemporalSplit(pd.Timestamp("2023-01-15"), (w,), v, e), months=12)
    assert moved.cut == pd.Timestamp("2024-01-15")
    assert moved.train == (Window(pd.Timestamp("2023-01-15"), pd.Timestamp("2023-07-15")),)
    assert moved.valid.end == moved.cut and moved.evaluation.start == moved.cut


def test_a_given_cut_replaces_the_data_derived_one() -> None:
    split = make_split(_tables(), cut=D("2024-12-31"))
    assert split.cut == D("2024-12-31") and split.valid.end == D("2024-12-31")
    assert (split.evaluation.start, split.evaluation.end) == (D("2024-12-31"), D("2025-12-31"))
    assert all(w.end <= split.valid.start for w in split.train)
