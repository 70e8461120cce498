"""The LightGBM ranker trained data-parallel on a Dask cluster (``lightgbm.dask``).

After ``fit`` the scorer holds the local booster, so scoring, contributions and the artifact
(LightGBM text, stored as kind ``lightgbm``) are exactly those of :class:`LGBMRankerScorer`.
This module is the only place ``lightgbm.dask`` is imported.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Sequence
from typing import Any, Self, cast

import dask
import dask.array as da
import dask.dataframe as dd
import distributed
import lightgbm as lgb
import numpy as np
import pandas as pd
from lightgbm.dask import DaskLGBMRanker

from tenantmatch.models.errors import FeatureMismatchError, GroupSizeError, ModelsError
from tenantmatch.models.ranker import LGBMRankerScorer
from tenantmatch.models.scorers import ValidSet, check_features, check_grades, check_group

logger = logging.getLogger(__name__)

DaskVector = dd.Series | da.Array
# LightGBM's own names in ``lgb_params`` -> the scikit-learn names DaskLGBMRanker takes, so no
# setting reaches LightGBM twice under two aliases.
SKLEARN_NAMES = {
    "min_data_in_leaf": "min_child_samples",
    "feature_fraction": "colsample_bytree",
    "bagging_fraction": "subsample",
    "bagging_freq": "subsample_freq",
    "seed": "random_state",
}
# Set by lightgbm.dask per worker (threads) or only meaningful with evaluation sets it cannot use.
DASK_MANAGED = ("num_threads", "eval_at", "metric")


def mean_ndcg(
    score: np.ndarray, y: np.ndarray, *, group: np.ndarray, k: int, label_gain: Sequence[float]
) -> float:
    """Mean NDCG@k over queries (rows grouped by ``group`` sizes) as LightGBM computes it:
    gains from ``label_gain``, ties kept in row order, a query without positives counts 1."""
    qid = np.repeat(np.arange(len(group)), group)
    starts = np.repeat(np.cumsum(group) - group, group)
    rank = np.arange(len(y)) - starts
    discount = np.where(rank < k, 1.0 / np.log2(rank + 2.0), 0.0)
    gain = np.asarray(label_gain, dtype=np.float64)[y]
    dcg = np.bincount(qid, weights=gain[np.lexsort((-score, qid))] * discount, minlength=len(group))
    ideal = np.bincount(qid, weights=gain[np.lexsort((-y, qid))] * discount, minlength=len(group))
    ndcg = np.divide(dcg, ideal, out=np.ones_like(dcg), where=ideal > 0)
    return float(ndcg.mean()) if len(group) else float("nan")


class ValidSetEarlyStopping:
    """LightGBM callback: NDCG@``k`` of the whole validation set after every round, stopping
    ``patience`` rounds after the best one (as ``lgb.early_stopping`` does).

    Every Dask worker holds the same full validation set and the same synchronised trees, so
    all workers compute the same curve and stop at the same round; LightGBM's own metrics in
    distributed mode only see each worker's local rows.
    """

    order = 30
    before_iteration = False

    def __init__(
        self, valid: ValidSet, *, k: int, label_gain: Sequence[float], patience: int
    ) -> None:
        self.X = valid.X.to_numpy(dtype=np.float64, na_value=np.nan)
        self.y = valid.y.astype(np.int64)
        self.group = valid.group
        self.k = k
        self.label_gain = list(label_gain)
        self.patience = patience
        self.name = f"ndcg@{k}"
        self._raw = np.zeros(len(self.y))
        self._best = (-np.inf, -1)

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        # One tree per round (lambdarank): add the newest tree's output to the running scores.
        booster = cast(lgb.Booster, env.model)  # lgb.train, never lgb.cv, runs this callback
        self._raw += booster.predict(
            self.X, start_iteration=env.iteration, num_iteration=1, raw_score=True
        )
        value = mean_ndcg(self._raw, self.y, group=self.group, k=self.k, label_gain=self.label_gain)
        if value > self._best[0]:
            self._best = (value, env.iteration)
        best_value, best_iteration = self._best
        last = env.iteration == env.end_iteration - 1
        if last or env.iteration - best_iteration >= self.patience:
            result = [("valid", self.name, best_value, True)]
            raise lgb.callback.EarlyStopException(best_iteration, result)


def _as_dask(
    X: dd.DataFrame | pd.DataFrame, y: Any, group: Any
) -> tuple[dd.DataFrame, DaskVector, DaskVector]:
    """Dask collections as given; pandas/numpy inputs become one partition each."""
    if isinstance(X, pd.DataFrame):
        X = dd.from_pandas(X, npartitions=1, sort=False)
    if not isinstance(y, dd.Series | da.Array):
        y = dd.from_pandas(pd.Series(np.asarray(y)), npartitions=1, sort=False)
    if not isinstance(group, dd.Series | da.Array):
        group = dd.from_pandas(pd.Series(np.asarray(group)), npartitions=1, sort=False)
    if not isinstance(X, dd.DataFrame):
        raise FeatureMismatchError(f"X must be a dask or pandas DataFrame, got {type(X).__name__}")
    return X, y, group


def _n_parts(collection: dd.DataFrame | DaskVector) -> int:
    if isinstance(collection, da.Array):
        return len(collection.chunks[0])
    return int(collection.npartitions)


def check_partition(X: pd.DataFrame, y: Any, group: Any, *, part: int) -> int:
    """Rows of one partition after the scorer checks (numeric X, grades 0..4, query sizes
    summing to the partition's rows); runs on a worker, errors travel back to the caller."""
    check_features(X, what=f"X partition {part}")
    check_grades(np.asarray(y).reshape(-1), n_rows=len(X), what=f"y partition {part}")
    check_group(np.asarray(group).reshape(-1), n_rows=len(X), what=f"group partition {part}")
    return len(X)


class DaskLGBMRankerScorer(LGBMRankerScorer):
    """:class:`LGBMRankerScorer` fitted with ``lightgbm.dask.DaskLGBMRanker`` on dask
    collections whose partitions hold whole queries (``group`` chunk i sizes partition i).

    ``client`` is the Dask client (None: the default client). Every other setting is the
    single-machine ranker's; early stopping runs on the full validation set on every worker.
    """

    def __init__(self, *, client: distributed.Client | None = None, **ranker_settings: Any) -> None:
        super().__init__(**ranker_settings)
        self.client = client

    def get_params(self) -> dict[str, Any]:
        """The single-machine ranker's settings (the artifact loads as ``LGBMRankerScorer``)."""
        names = [p for p in inspect.signature(LGBMRankerScorer.__init__).parameters if p != "self"]
        values = {name: getattr(self, name) for name in names}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

    def fit(  # type: ignore[override]
        self,
        X: dd.DataFrame | pd.DataFrame,
        y: DaskVector | Sequence[int] | np.ndarray,
        *,
        group: DaskVector | Sequence[int] | np.ndarray,
        X_valid: pd.DataFrame | None = None,
        y_valid: Sequence[int] | np.ndarray | None = None,
        group_valid: Sequence[int] | np.ndarray | None = None,
    ) -> Self:
        """Learn on the cluster from X (n rows, dask or pandas) with grades y and query sizes
        group, partition by partition; the validation set (pandas) drives early stopping."""
        dX, dy, dgroup = _as_dask(X, y, group)
        meta = check_features(dX._meta)
        self._check_categoricals(meta)
        valid = self._valid_set(
            list(meta.columns), X_valid=X_valid, y_valid=y_valid, group_valid=group_valid
        )
        client = self._client()
        # Separately: dask arrays and dask dataframes are different graph kinds.
        dX, dy, dgroup = (client.persist(c) for c in (dX, dy, dgroup))
        n_rows = self._check_partitions(client, dX, dy, dgroup)
        model = self._dask_model(client)
        with warnings.catch_warnings():
            # lightgbm.dask sets threads per worker itself and says so for n_jobs every time.
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
            model.fit(dX, dy, group=dgroup, **self._fit_kwargs(valid))
        self._keep_local(model.to_local(), meta=meta, n_rows=n_rows)
        return self

    def _client(self) -> distributed.Client:
        if self.client is not None:
            return self.client
        try:
            return distributed.default_client()
        except ValueError as exc:
            raise ModelsError(
                "DaskLGBMRankerScorer needs a Dask client: pass client= or create a "
                "distributed.Client first"
            ) from exc

    def _check_categoricals(self, meta: pd.DataFrame) -> None:
        unknown = [c for c in self.categorical_features if c not in meta.columns]
        if unknown:
            raise FeatureMismatchError(
                f"categorical_features {unknown} are not columns of X; "
                f"allowed: names among X's {len(meta.columns)} columns"
            )

    def _check_partitions(
        self, client: distributed.Client, X: dd.DataFrame, y: DaskVector, group: DaskVector
    ) -> int:
        """Total rows after checking every partition on its worker; GroupSizeError when the
        collections are not split into the same number of partitions."""
        parts = {name: _n_parts(c) for name, c in (("X", X), ("y", y), ("group", group))}
        if len(set(parts.values())) != 1:
            raise GroupSizeError(
                f"X, y and group must have the same number of partitions (group chunk i sizes "
                f"the queries of partition i), got {parts}"
            )
        checks = [
            dask.delayed(check_partition)(x, yi, g, part=i)
            for i, (x, yi, g) in enumerate(
                zip(X.to_delayed(), _delayed(y), _delayed(group), strict=True)
            )
        ]
        futures = client.compute(checks)
        distributed.wait(futures)
        return int(sum(f.result() for f in futures))  # the first bad partition raises

    def _dask_model(self, client: distributed.Client) -> DaskLGBMRanker:
        params = {k: v for k, v in self.lgb_params().items() if k not in DASK_MANAGED}
        renamed = {SKLEARN_NAMES.get(k, k): v for k, v in params.items()}
        return DaskLGBMRanker(client=client, n_estimators=self.num_boost_round, **renamed)

    def _fit_kwargs(self, valid: ValidSet | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"categorical_feature": list(self.categorical_features)}
        if valid is not None:
            stopping = ValidSetEarlyStopping(
                valid,
                k=self.eval_at,
                label_gain=self.label_gain,
                patience=self.early_stopping_rounds,
            )
            kwargs["callbacks"] = [stopping]
        return kwargs

    def _keep_local(self, local: lgb.LGBMRanker, *, meta: pd.DataFrame, n_rows: int) -> None:
        booster = local.booster_
        self.booster_ = booster
        self.best_iteration_ = booster.best_iteration or booster.current_iteration()
        self.best_score_ = {k: dict(v) for k, v in booster.best_score.items()}
        self.feature_names_ = [str(c) for c in meta.columns]
        logger.info(
            "distributed lambdarank fitted: %d rows, best iteration %d of %d, %s",
            n_rows,
            self.best_iteration_,
            booster.current_iteration(),
            self.best_score_,
        )


def _delayed(collection: DaskVector) -> list[Any]:
    """One delayed object per partition (dask arrays give an object array of blocks)."""
    parts = collection.to_delayed()
    return (
        list(np.asarray(parts, dtype=object).reshape(-1))
        if isinstance(parts, np.ndarray)
        else list(parts)
    )
