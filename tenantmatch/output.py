"""How the CLI prints: jsonl on stdout for machines, plain tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tenantmatch.matching import shortlist_table as export_table
from tenantmatch.matching import tables_rows
from tenantmatch.registry import InputError, csv_bytes, write_csv, xlsx_bytes


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


def check_file_format(fmt: str, out: Path | None) -> None:
    """InputError before any work when the format and ``--output`` do not go together."""
    if fmt == "xlsx" and out is None:
        raise InputError("--format xlsx needs --output FILE (a workbook is not written to stdout)")
    if out is not None and fmt not in ("csv", "xlsx"):
        raise InputError(f"--output writes csv or xlsx, not {fmt}; add --format csv or xlsx")


def write_shortlists_file(results: Sequence[Mapping[str, Any]], fmt: str, out: Path | None) -> None:
    """Shortlists as one table (a 查询 column names each row's query, Chinese headers, formula
    text neutralised): csv to ``out`` (UTF-8 with BOM) or stdout, xlsx to ``out``."""
    headers, rows = tables_rows([export_table(r) for r in results])
    if out is None:
        write_csv(sys.stdout, headers, rows)
        sys.stdout.flush()
        return
    body = csv_bytes(headers, rows) if fmt == "csv" else xlsx_bytes(headers, rows, sheet="推荐名单")
    out.write_bytes(body)
    info(f"wrote {len(rows)} rows to {out}")


def frame_table(frame: pd.DataFrame, *, floatfmt: str = "{:.4f}") -> str:
    """A DataFrame as an aligned text table."""
    return frame.to_string(index=False, float_format=floatfmt.format)


def info(message: str) -> None:
    """Human-oriented progress and results go to stderr so stdout stays machine-readable."""
    sys.stderr.write(message + "\n")


def warn(message: str) -> None:
    """A warning for the person at the terminal, on stderr (stdout stays machine-readable)."""
    sys.stderr.write(f"warning: {message}\n")
