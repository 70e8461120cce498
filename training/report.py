"""Per-model HTML report: metrics table, bar chart of NDCG@10 and Recall@50 per system and
direction, top-20 feature importance (gain) and a data summary, written beside the model."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tenantmatch.training.dataset import RankingSet, label_sizes
from tenantmatch.training.evaluate import EvalPools, format_table
from tenantmatch.training.splits import TemporalSplit

log = logging.getLogger(__name__)

REPORT_HTML = "report.html"
REPORT_PNG = "report.png"
CHART_METRICS = ("ndcg@10", "recall@50")


def metrics_chart(metrics: pd.DataFrame, path: Path) -> Path:
    """Write a PNG with one bar panel per chart metric: systems grouped by direction."""
    fig = Figure(figsize=(11, 4.2), dpi=100)
    axes = fig.subplots(1, len(CHART_METRICS))
    for ax, metric in zip(np.atleast_1d(axes), CHART_METRICS, strict=True):
        wide = metrics.loc[metrics["metric"].eq(metric)].pivot_table(
            index="direction", columns="system", values="value", sort=False
        )
        wide.plot.bar(ax=ax, rot=0, width=0.8, legend=False)
        ax.set_title(metric)
        ax.set_xlabel("")
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=max(len(labels), 1), fontsize=8)
    fig.subplots_adjust(bottom=0.22, wspace=0.2)
    fig.savefig(path, format="png")
    return path


def _importance_html(importance: pd.Series | None, *, top: int = 20) -> str:
    if importance is None or importance.empty:
        return "<p>No feature importance for this model kind.</p>"
    head = importance.sort_values(ascending=False).head(top)
    share = head / importance.sum() if importance.sum() > 0 else head * 0
    frame = pd.DataFrame({"gain": head.round(1), "share": share.round(4)})
    return frame.to_html(border=0)


def _summary_html(summary: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td><code>{html.escape(_text(v))}</code></td></tr>"
        for k, v in summary.items()
    )
    return f"<table>{rows}</table>"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def write_report(
    folder: Path,
    *,
    title: str,
    metrics: pd.DataFrame,
    importance: pd.Series | None,
    summary: Mapping[str, Any],
) -> Path:
    """Write ``report.html`` and ``report.png`` into ``folder``; returns the HTML path."""
    folder = Path(folder)
    metrics_chart(metrics, folder / REPORT_PNG)
    table = html.escape(format_table(metrics))
    body = (
        f"<h1>{html.escape(title)}</h1>"
        f"<h2>Metrics (held-out window)</h2><pre>{table}</pre>"
        f'<img src="{REPORT_PNG}" alt="NDCG@10 and Recall@50 per system and direction">'
        f"<h2>Feature importance (gain, top 20)</h2>{_importance_html(importance)}"
        f"<h2>Data and training summary</h2>{_summary_html(summary)}"
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;"
        "border-bottom:1px solid #ddd;vertical-align:top}code{white-space:pre-wrap}"
        f"</style></head><body>{body}</body></html>\n"
    )
    path = folder / REPORT_HTML
    path.write_text(page, encoding="utf-8")
    log.info("wrote report %s", path)
    return path


def set_sizes(s: RankingSet) -> dict[str, int]:
    """Rows, queries and positive rows of a ranking set, as the summary records them."""
    return label_sizes(s.y, s.group)


def training_summary(
    tables: dict[str, pd.DataFrame],
    split: TemporalSplit,
    sets: dict[str, dict[str, int]],
    pools: dict[str, EvalPools],
    comparison: dict[str, Any],
) -> dict[str, Any]:
    """Data, split and sampling facts for the manifest and the report; ``sets`` holds the
    :func:`set_sizes` of the training and validation sets (the sets themselves are let go
    before the refit builds its own)."""
    return {
        "tables": {name: len(frame) for name, frame in sorted(tables.items())},
        "split": split.describe(),
        **sets,
        "evaluation": {
            name: {
                "queries_with_positive": p.queries_with_positive,
                "queries_sampled": p.queries_sampled,
                "pool_rows": len(p.pairs),
                "pool_coverage": p.pool_coverage,
            }
            for name, p in pools.items()
        },
        "direction_comparison": comparison,
    }
