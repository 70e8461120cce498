"""How the CLI prints: jsonl on stdout for machines, plain tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd


def write_jsonl(objects: Iterable[Mapping[str, Any]]) -> None:
    """One JSON object per line on stdout, Chinese kept readable, nothing else."""
    for obj in objects:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")) + "\n")
    sys.stdout.flush()


def shortlist_table(results: Sequence[Mapping[str, Any]]) -> str:
    """Shortlists as a text table per query, with the top reason of each item."""
    blocks = []
    for result in results:
        query = ", ".join(f"{k}={v}" for k, v in result["query"].items())
        dated = f", as of {result['as_of']}" if result.get("as_of") else ""
        lines = [f"# {query}  (model {result['model_version']}{dated})"]
        if not result["items"]:
            lines.append("  (no candidates)")
        for item in result["items"]:
            item_id = item.get("enterprise_id") or item.get("building_id")
            reason = "；".join(r["text"] for r in item.get("reasons", [])[:2])
            name = item.get("name", "")
            lines.append(
                f"  {item['rank']:>3}  {item_id:<20} {item['score']:>8.4f}  {name}  {reason}"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def frame_table(frame: pd.DataFrame, *, floatfmt: str = "{:.4f}") -> str:
    """A DataFrame as an aligned text table."""
    return frame.to_string(index=False, float_format=floatfmt.format)


def info(message: str) -> None:
    """Human-oriented progress and results go to stderr so stdout stays machine-readable."""
    sys.stderr.write(message + "\n")


def warn(message: str) -> None:
    """A warning for the person at the terminal, on stderr (stdout stays machine-readable)."""
    sys.stderr.write(f"warning: {message}\n")
