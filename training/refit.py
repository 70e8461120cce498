"""Fitting the chosen system for serving: the windows each candidate learns from, the refit
of the gate's choice on every window up to the data's end with the settings it was chosen
with, and what the served version carries besides (its distilled pre-scorer and the
first-stage plan)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from tenantmatch.features import Vocabulary
from tenantmatch.matching import plan_first_stage
from tenantmatch.models import (
    FEATURE_SET_KEY,
    PRESCORER_FILE,
    LGBMRankerScorer,
    Scorer,
    hazard_attachments,
    make_scorer,
)
from tenantmatch.registry import Registry, Snapshot
from tenantmatch.training.blend import blend_of
from tenantmatch.training.dataset import RankingSet, build_sets
from tenantmatch.training.distill import fit_prescorer
from tenantmatch.training.errors import NotEnoughDataError
from tenantmatch.training.hazard import fit_hazard_vocabularies
from tenantmatch.training.plain import (
    PLAIN,
    PLAIN_RECIPE,
    PLAIN_SCORER,
    fit_plain,
    plain_sets,
    plain_windows,
)
from tenantmatch.training.selection import Candidate
from tenantmatch.training.splits import TemporalSplit, earliest_date, latest_date, shift_split
from tenantmatch.training.spool import SetSpool, SpoolView, spooled_sets

if TYPE_CHECKING:
    from tenantmatch.training.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fitted:
    """A scorer ready to store: the vocabulary its X is built with, the windows whose labels
    it learnt from and the date its data reaches (its newest window's end)."""

    scorer: Scorer
    features: str
    vocab: Vocabulary
    windows: tuple[str, ...]
    trained_through: pd.Timestamp

    def record(self, *, refit: bool) -> dict[str, Any]:
        """The manifest's ``fit`` entry."""
        return {"refit": refit, "windows": list(self.windows),
                "trained_through": str(self.trained_through.date())}  # fmt: skip


def _ranker_vocabularies(
    registry: Registry, split: TemporalSplit, *, vocab: Vocabulary, config: TrainConfig
) -> tuple[Vocabulary, Vocabulary]:
    """(for the training windows, served): ``vocab`` with the cross-fitted and the served move
    hazard of the split."""
    return fit_hazard_vocabularies(
        registry, split, vocab=vocab, horizon_months=config.hazard_months, n_jobs=config.n_jobs,
        max_firms=config.hazard_max_firms,
    )  # fmt: skip


def ranker_sets(
    registry: Registry, split: TemporalSplit, *, vocab: Vocabulary, config: TrainConfig,
    progress: bool,
) -> tuple[Vocabulary, list[RankingSet]]:  # fmt: skip
    """The served vocabulary (``vocab`` with the move hazard fitted on the split) and one
    ranking set per fit window (training windows, then validation), built with the
    cross-fitted hazard, all in memory (a training run spools them: :func:`ranker_spool`)."""
    for_training, served = _ranker_vocabularies(registry, split, vocab=vocab, config=config)
    sets = build_sets(registry, split.fit_windows, vocab=for_training, config=config.sampling,
                      n_jobs=config.n_jobs, progress=progress,
                      features=config.ranker_features)  # fmt: skip
    return served, sets


@contextlib.contextmanager
def ranker_spool(
    registry: Registry, split: TemporalSplit, *, vocab: Vocabulary, config: TrainConfig,
    progress: bool,
) -> Iterator[tuple[Vocabulary, SetSpool]]:  # fmt: skip
    """As :func:`ranker_sets`, the sets spooled to disk window by window (``training.spool``,
    under ``config.spool_dir``) and removed on exit."""
    for_training, served = _ranker_vocabularies(registry, split, vocab=vocab, config=config)
    with spooled_sets(registry, split.fit_windows, vocab=for_training, config=config.sampling,
                      n_jobs=config.n_jobs, progress=progress, features=config.ranker_features,
                      folder=config.spool_dir) as spool:  # fmt: skip
        yield served, spool


def fit_spooled_ranker(
    train: SpoolView,
    valid: SpoolView | None,
    *,
    name: str = LGBMRankerScorer.name,
    **settings: Any,
) -> LGBMRankerScorer:
    """The LightGBM scorer ``name`` with ``settings`` fitted from ``train``'s rows on disk,
    early-stopped on ``valid`` (loaded: one window) when it has rows."""
    scorer = make_scorer(name, **settings)
    if not isinstance(scorer, LGBMRankerScorer):
        raise TypeError(f"{name} is not a LightGBM scorer; it cannot be fitted from disk")
    y, group = train.labels()
    if valid is None or not len(valid):
        return scorer.fit_rows(train.rows(), y, group=group)
    held = valid.load()
    return scorer.fit_rows(train.rows(), y, group=group,
                           X_valid=held.X, y_valid=held.y, group_valid=held.group)  # fmt: skip


def plain_fit_sets(
    registry: Registry, cut: pd.Timestamp, *, earliest: pd.Timestamp, vocab: Vocabulary,
    config: TrainConfig, system: str = PLAIN,
) -> tuple[list[RankingSet], tuple[str, ...]]:  # fmt: skip
    """The sets of the plain recipe's windows ending by ``cut`` (training, then validation)
    with X of ``system``'s feature set, and those windows as text; NotEnoughDataError with
    fewer than two."""
    train, valid = plain_windows(cut, earliest=earliest, config=config.plain)
    windows = (*train, valid)
    sets = plain_sets(registry, windows, vocab=vocab, config=config.plain,
                      features=PLAIN_RECIPE[system])  # fmt: skip
    if len(sets) < 2:
        raise NotEnoughDataError(
            f"the plain baseline needs move-ins in two windows of {config.plain.horizon_months} "
            f"months ending by {cut.date()}; found {len(sets)}"
        )
    return sets, tuple(str(w) for w in windows)


def fit_plain_candidate(
    registry: Registry, split: TemporalSplit, *, tables: dict[str, pd.DataFrame],
    vocab: Vocabulary, config: TrainConfig, system: str = PLAIN,
) -> tuple[Candidate, Fitted]:  # fmt: skip
    """``system`` (the plain baseline or another of the plain recipe) fitted on its windows
    up to the cut, early-stopped on the last."""
    sets, windows = plain_fit_sets(registry, split.cut, earliest=earliest_date(tables),
                                   vocab=vocab, config=config, system=system)  # fmt: skip
    params = {"seed": config.plain.seed, "n_jobs": config.n_jobs, **config.plain.params}
    features = PLAIN_RECIPE[system]
    scorer = fit_plain(RankingSet.concat(sets[:-1]), sets[-1], params=params, features=features)
    return Candidate(system, scorer, features), Fitted(scorer, features, vocab, windows,
                                                       split.cut)  # fmt: skip


def refit_candidate(
    candidate: Candidate, *, registry: Registry, tables: dict[str, pd.DataFrame],
    split: TemporalSplit, config: TrainConfig, progress: bool,
) -> Fitted:  # fmt: skip
    """``candidate`` fitted again with its settings (:meth:`Candidate.refit_settings`: its
    parameters, as many rounds as early stopping kept) on its windows moved to end at the
    data's end, with a vocabulary (and move hazard) of that date."""
    if candidate.parts:
        fits = []
        for part in candidate.parts:
            fits.append(refit_candidate(part, registry=registry, tables=tables, split=split,
                                        config=config, progress=progress))  # fmt: skip
        vocab = fits[0].vocab  # the ranker's: it holds the move hazard
        at = max(f.trained_through for f in fits)
        blend = blend_of([f.scorer for f in fits], registry=registry, at=at, vocab=vocab,
                         seed=config.sampling.seed)  # fmt: skip
        windows = tuple(dict.fromkeys(w for f in fits for w in f.windows))
        return Fitted(blend, candidate.features, vocab, windows, at)
    settings = candidate.refit_settings()
    if candidate.name not in PLAIN_RECIPE:
        moved = shift_split(split, months=config.eval_months)
        vocab = Vocabulary.fit(Snapshot.at(registry, moved.cut))
        with ranker_spool(registry, moved, vocab=vocab, config=config,
                          progress=progress) as (served, spool):  # fmt: skip
            spooled = spool.select(directions=config.ranker_directions)
            ranker = fit_spooled_ranker(spooled, None, name=candidate.scorer.name, **settings)
        windows = tuple(str(w) for w in moved.fit_windows)
        return Fitted(ranker, candidate.features, served, windows, moved.cut)
    end = latest_date(tables)
    vocab = Vocabulary.fit(Snapshot.at(registry, end))
    sets, windows = plain_fit_sets(registry, end, earliest=earliest_date(tables), vocab=vocab,
                                   config=config, system=candidate.name)  # fmt: skip
    every = RankingSet.concat(sets)
    scorer = make_scorer(PLAIN_SCORER, **settings).fit(every.X, every.y, group=every.group)
    return Fitted(scorer, candidate.features, vocab, windows, end)


def serving_parts(
    fitted: Fitted, *, registry: Registry, config: TrainConfig
) -> tuple[dict[str, bytes], dict[str, Any] | None]:
    """The attachments of the served version (the move hazard; with ``config.distill`` the
    pre-scorer distilled from it on the snapshot of its data's end) and its first-stage plan
    (None without distillation)."""
    attachments = dict(hazard_attachments(fitted.vocab))
    if not config.distill:
        return attachments, None
    snapshot = Snapshot.at(registry, fitted.trained_through)
    names = list(fitted.scorer.feature_names_)  # type: ignore[attr-defined]
    prescorer = fit_prescorer(snapshot, fitted.scorer, vocab=fitted.vocab, feature_names=names,
                              features=fitted.features)  # fmt: skip
    attachments[PRESCORER_FILE] = prescorer.to_bytes()
    manifest = {"feature_names": names, FEATURE_SET_KEY: fitted.features}
    plan = plan_first_stage(snapshot, fitted.scorer, vocab=fitted.vocab, manifest=manifest,
                            prescorer=prescorer, full_scan_below=config.full_scan_below,
                            seed=config.sampling.seed)  # fmt: skip
    return attachments, plan
