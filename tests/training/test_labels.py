"""Labels on a hand-made history: grades, the declined negative, window edges, sampling."""

from __future__ import annotations

import pandas as pd
import pytest

from tenantmatch.training.errors import TrainingError
from tenantmatch.training.labels import (
    BUILDING_TO_ENTERPRISE,
    ENTERPRISE_TO_BUILDING,
    PairKeys,
    direction_by_name,
    hard_flags,
    query_ids,
    sample_examples,
    window_labels,
)
from tenantmatch.training.splits import Window

D = pd.Timestamp


def _tables() -> dict[str, pd.DataFrame]:
    tenancies = pd.DataFrame(
        {
            "enterprise_id": ["E1", "E2", "E3"],
            "building_id": ["B1", "B1", "B2"],
            "start_date": [D("2024-03-01"), D("2024-01-01"), D("2024-06-30")],
            "end_date": [pd.NaT, pd.NaT, pd.NaT],
        }
    )
    events = pd.DataFrame(
        {
            "enterprise_id": ["E1", "E4", "E4", "E5", "E6", "E7", "E7", "E8"],
            "building_id": ["B1", "B1", "B1", "B2", "B2", "B1", "B1", "B2"],
            "date": [
                D("2024-02-01"),
                D("2024-02-01"),
                D("2024-04-01"),
                D("2024-05-01"),
                D("2024-05-02"),
                D("2024-02-10"),
                D("2024-03-10"),
                D("2024-07-01"),
            ],
            "stage": [
                "signed",
                "contacted",
                "negotiating",
                "declined",
                "visited",
                "visited",
                "declined",
                "signed",
            ],
        }
    )
    return {"tenancies": tenancies, "events": events}


WINDOW = Window(D("2024-01-01"), D("2024-06-30"))


def _grades() -> dict[tuple[str, str], int]:
    labels = window_labels(_tables(), window=WINDOW)
    return {
        (b, e): g
        for b, e, g in labels[["building_id", "enterprise_id", "grade"]].itertuples(index=False)
    }


def test_grades_take_the_best_outcome_per_pair() -> None:
    grades = _grades()
    assert grades[("B1", "E1")] == 4  # moved in, beats the earlier "signed" event
    assert grades[("B1", "E4")] == 2  # contacted then negotiating
    assert grades[("B2", "E6")] == 1  # visited
    assert grades[("B1", "E7")] == 0  # visited, later declined: the latest stage counts


def test_the_latest_stage_of_a_pair_wins() -> None:
    events = pd.DataFrame(
        {
            "enterprise_id": ["A", "A", "A", "R", "R", "S", "S", "M", "M"],
            "building_id": ["B1"] * 9,
            "date": [D("2024-02-01"), D("2024-03-01"), D("2024-04-01"),  # A
                     D("2024-02-01"), D("2024-05-01"),  # R: declined, then courted again
                     D("2024-03-01"), D("2024-03-01"),  # S: one day
                     D("2024-02-01"), D("2024-03-01")],  # M: declined, then moved in
            "stage": ["contacted", "visited", "declined", "declined", "negotiating",
                      "declined", "visited", "declined", "declined"],
        }
    )  # fmt: skip
    tenancies = pd.DataFrame(
        {"enterprise_id": ["M"], "building_id": ["B1"], "start_date": [D("2024-06-01")],
         "end_date": [pd.NaT]}
    )  # fmt: skip
    labels = window_labels({"events": events, "tenancies": tenancies}, window=WINDOW)
    got = labels.set_index("enterprise_id")[["grade", "explicit_negative"]]
    assert got.to_dict("index") == {
        "A": {"grade": 0, "explicit_negative": True},  # contacted -> visited -> declined
        "M": {"grade": 4, "explicit_negative": False},  # the move-in is the outcome
        "R": {"grade": 2, "explicit_negative": False},  # re-engaged after the decline
        "S": {"grade": 1, "explicit_negative": False},  # same day: the furthest stage is latest
    }


def test_declined_only_pair_is_an_explicit_negative() -> None:
    labels = window_labels(_tables(), window=WINDOW).set_index(["building_id", "enterprise_id"])
    assert labels.loc[("B2", "E5"), "grade"] == 0
    assert bool(labels.loc[("B2", "E5"), "explicit_negative"])
    assert not bool(labels.loc[("B1", "E4"), "explicit_negative"])


def test_window_is_open_at_start_and_closed_at_end() -> None:
    grades = _grades()
    assert ("B1", "E2") not in grades  # started exactly on window.start: before the window
    assert grades[("B2", "E3")] == 4  # started exactly on window.end: inside
    assert ("B2", "E8") not in grades  # after the window


def test_empty_history_gives_empty_labels() -> None:
    labels = window_labels({}, window=WINDOW)
    assert labels.empty
    assert list(labels.columns) == ["building_id", "enterprise_id", "grade", "explicit_negative"]


def test_query_ids_need_a_positive() -> None:
    labels = window_labels(_tables(), window=WINDOW)
    assert list(query_ids(labels, direction=BUILDING_TO_ENTERPRISE)) == ["B1", "B2"]
    assert "E5" not in query_ids(labels, direction=ENTERPRISE_TO_BUILDING)


def _pool() -> pd.DataFrame:
    enterprises = [f"X{i:02d}" for i in range(40)] + ["E1", "E4", "E7"]
    pool = pd.DataFrame({"building_id": "B1", "enterprise_id": enterprises})
    pool["hard"] = pool["enterprise_id"].str.slice(1).str.isdigit() & (pool.index.to_series() < 10)
    return pool


def test_sampling_keeps_labelled_pairs_and_caps_negatives() -> None:
    labels = window_labels(_tables(), window=WINDOW)
    labels = labels.loc[labels["building_id"].eq("B1")]
    rows = sample_examples(
        labels, _pool(), direction=BUILDING_TO_ENTERPRISE, n_hard=5, n_random=7, seed=3
    )
    labelled = rows.loc[rows["enterprise_id"].isin(["E1", "E4", "E7"])]
    assert sorted(labelled["grade"]) == [0, 2, 4]  # E7 declined last: a kept hard negative
    negatives = rows.loc[rows["enterprise_id"].str.startswith("X")]
    assert len(negatives) == 12 and (negatives["grade"] == 0).all()
    hard = set(_pool().loc[_pool()["hard"], "enterprise_id"])
    assert negatives["enterprise_id"].isin(hard).sum() >= 5
    assert not rows.duplicated(["building_id", "enterprise_id"]).any()


def test_sampling_is_seeded() -> None:
    labels = window_labels(_tables(), window=WINDOW)
    kw = {"direction": BUILDING_TO_ENTERPRISE, "n_hard": 3, "n_random": 3}
    a = sample_examples(labels, _pool(), seed=1, **kw)
    b = sample_examples(labels, _pool(), seed=1, **kw)
    c = sample_examples(labels, _pool(), seed=2, **kw)
    pd.testing.assert_frame_equal(a, b)
    assert set(a["enterprise_id"]) != set(c["enterprise_id"])


def test_hard_flags_need_the_same_known_city() -> None:
    pool = pd.DataFrame({"building_id": ["B1", "B1", "B1"], "enterprise_id": ["E1", "E2", "E3"]})
    b_city = pd.Series({"B1": "太原市"})
    e_city = pd.Series({"E1": "太原市", "E2": "大同市", "E3": None})
    assert list(hard_flags(pool, building_city=b_city, enterprise_city=e_city)) == [
        True,
        False,
        False,
    ]


def test_unknown_direction_names_the_allowed_ones() -> None:
    with pytest.raises(TrainingError, match="building_to_enterprise"):
        direction_by_name("sideways")


def test_pair_keys_look_up_grades_in_a_categorical_pool() -> None:
    pool = pd.DataFrame(
        {
            "building_id": pd.Categorical.from_codes([0, 0, 1], categories=["B1", "B2"]),
            "enterprise_id": pd.Categorical.from_codes([0, 1, 1], categories=["E1", "E4"]),
        }
    )
    keys = PairKeys(pool)
    labels = window_labels(_tables(), window=WINDOW)
    assert list(keys.grades(labels)) == [4, 2, 0]
    outside = pd.DataFrame({"building_id": ["B9", "B2"], "enterprise_id": ["E1", "E1"]})
    assert list(keys.of(outside)) == [-1, 2]


def test_courted_pairs_are_drawn_first_and_capped() -> None:
    labels = window_labels(_tables(), window=WINDOW)
    labels = labels.loc[labels["building_id"].eq("B1")]
    pool = _pool()
    pool["courted"] = pool["enterprise_id"].isin(["X30", "X31", "X32", "X33"])
    kw = {"direction": BUILDING_TO_ENTERPRISE, "n_hard": 2, "n_random": 2, "seed": 5}
    rows = sample_examples(labels, pool, n_courted=3, **kw)
    negatives = rows.loc[rows["enterprise_id"].str.startswith("X"), "enterprise_id"]
    assert len(negatives) == 7 and negatives.is_unique
    assert negatives.isin(["X30", "X31", "X32", "X33"]).sum() >= 3
    none = sample_examples(labels, pool.drop(columns="courted"), n_courted=3, **kw)
    assert none["enterprise_id"].str.startswith("X").sum() == 4
