"""The Chinese aliases the importer accepts are declared once, in ``registry/contract.py``, and
docs/data-contract.md lists exactly them: the block between the ``aliases`` markers must equal
:func:`render_aliases` (on failure the assertion shows the block to paste)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from tenantmatch.registry import TABLES, label_zh

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"
BEGIN = "<!-- aliases: begin (generated from registry/contract.py, checked by tests) -->"
END = "<!-- aliases: end -->"


def render_aliases() -> str:
    """The markdown of every table's Chinese headers and units, and every code's label."""
    lines = ["| table | column | 中文表头 | unit suffixes accepted in a number |",
             "|---|---|---|---|"]  # fmt: skip
    for table in TABLES:
        for c in table.columns:
            units = ", ".join(f"`{s}`" + (f" (÷{d:g})" if d != 1 else "") for s, d in c.units)
            lines.append(f"| {table.name} | {c.name} | {c.label_zh} | {units} |")
    lines += ["", "| table | column | codes and the Chinese labels accepted for them |",
              "|---|---|---|"]  # fmt: skip
    for table in TABLES:
        for c in table.columns:
            if c.value_aliases:
                pairs = ", ".join(f"`{code}` {label_zh(code)}" for code in c.allowed)
                lines.append(f"| {table.name} | {c.name} | {pairs} |")
    return "\n".join(lines)


def _doc_block() -> str:
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"{DOC.name} lacks the aliases markers"
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def test_the_doc_lists_every_alias_the_contract_declares() -> None:
    assert _doc_block() == render_aliases()


def test_every_column_has_one_chinese_header_unique_in_its_table() -> None:
    for table in TABLES:
        labels = [c.label_zh for c in table.columns]
        assert all(labels), table.name
        assert len(set(labels)) == len(labels), table.name
        assert not set(labels) & set(table.column_names)
        assert table.label_zh


def test_enum_labels_are_those_of_the_registry_and_unique_per_column() -> None:
    theme = TABLES[0].column("theme")
    assert theme.value_aliases["金融服务型"] == "finance" and len(theme.value_aliases) == 10
    for table in TABLES:
        for c in table.columns:
            if c.type in ("enum", "list"):
                assert sorted(c.value_aliases.values()) == sorted(c.allowed), c.name
            else:
                assert c.value_aliases == {}


@pytest.mark.parametrize("column", [c for t in TABLES for c in t.columns if c.units],
                         ids=lambda c: c.name)  # fmt: skip
def test_units_belong_to_number_columns_and_are_distinct_when_normalised(column) -> None:
    assert column.type in ("float", "int")
    forms = [unicodedata.normalize("NFKC", s).lower() for s, _ in column.units]
    assert all(forms) and all(d > 0 for _, d in column.units)
    # spellings that normalise alike ("㎡", "m2") must mean the same divisor
    by_form: dict[str, set[float]] = {}
    for form, (_, d) in zip(forms, column.units, strict=True):
        by_form.setdefault(form, set()).add(d)
    assert all(len(d) == 1 for d in by_form.values())


def test_the_check_notices_a_changed_doc() -> None:
    text = _doc_block()
    assert "| buildings | building_id | 楼宇编号 |" in text
    assert text.replace("楼宇编号", "楼号") != render_aliases()
