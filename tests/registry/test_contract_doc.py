"""docs/data-contract.md and registry/contract.py describe the same tables.

The markdown tables under ``## <table> (required|optional)`` are parsed and compared with
``TABLES``: table names and required-ness, column names in order, types, required columns and the
codes of every enum and list column. A change to one side without the other fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tenantmatch.registry import TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"

_TABLE_HEADING = re.compile(r"^## (\w+) \((required|optional)\)")
# The doc's words for the contract's column types.
_DOC_TYPES = {
    "string": "str",
    "float": "float",
    "int": "int",
    "date": "date",
    "date or year": "date",
    "enum": "enum",
    "list": "list",
}


@dataclass(frozen=True)
class DocColumn:
    name: str
    type: str
    required: bool
    codes: tuple[str, ...]


@dataclass(frozen=True)
class DocTable:
    name: str
    required: bool
    columns: tuple[DocColumn, ...]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _doc_columns(names: str, type_: str, rule: str) -> list[DocColumn]:
    """One row of a contract table; ``lat, lon`` names two columns with the same rule."""
    if type_ not in _DOC_TYPES:
        raise AssertionError(f"unknown type {type_!r} in {DOC.name} (row {names!r})")
    required = rule.startswith("required")
    # Codes are the backticked words of an enum or list rule ("`finance` 金融服务型, ...").
    codes = tuple(re.findall(r"`([a-z0-9_]+)`", rule)) if type_ in ("enum", "list") else ()
    return [DocColumn(n.strip(), _DOC_TYPES[type_], required, codes) for n in names.split(",")]


def parse_contract_doc(text: str) -> dict[str, DocTable]:
    """The contract tables of the markdown text, by name, in the order they appear."""
    tables: dict[str, DocTable] = {}
    current: tuple[str, bool] | None = None
    columns: list[DocColumn] = []

    def close() -> None:
        if current is not None:
            tables[current[0]] = DocTable(current[0], current[1], tuple(columns))

    for line in text.splitlines():
        heading = _TABLE_HEADING.match(line)
        if heading or line.startswith("#"):
            close()
            current = (heading[1], heading[2] == "required") if heading else None
            columns = []
            continue
        if current is None or not line.startswith("|"):
            continue
        cells = _cells(line)
        if cells[0] in ("column", "") or set(cells[0]) <= {"-"}:
            continue  # header and separator rows
        columns.extend(_doc_columns(*cells[:3]))
    close()
    return tables


@pytest.fixture(scope="module")
def doc_tables() -> dict[str, DocTable]:
    return parse_contract_doc(DOC.read_text(encoding="utf-8"))


def test_the_doc_names_every_contract_table_in_order(doc_tables: dict[str, DocTable]) -> None:
    assert list(doc_tables) == [t.name for t in TABLES]
    assert {n: t.required for n, t in doc_tables.items()} == {t.name: t.required for t in TABLES}


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_columns_types_and_required_agree(table, doc_tables: dict[str, DocTable]) -> None:
    doc = doc_tables[table.name]
    assert [c.name for c in doc.columns] == list(table.column_names)
    assert {c.name: c.type for c in doc.columns} == {c.name: c.type for c in table.columns}
    assert {c.name for c in doc.columns if c.required} == {
        c.name for c in table.columns if c.required
    }


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_enum_and_list_codes_agree(table, doc_tables: dict[str, DocTable]) -> None:
    doc = {c.name: c.codes for c in doc_tables[table.name].columns}
    for column in table.columns:
        if column.type in ("enum", "list"):
            assert doc[column.name] == column.allowed, column.name
        else:
            assert doc[column.name] == (), column.name


def test_the_comparison_notices_a_changed_doc() -> None:
    """The parser reads what the tests compare: a dropped code, a renamed column or a table
    turned optional in the text all change its result."""
    text = DOC.read_text(encoding="utf-8")
    base = parse_contract_doc(text)
    theme = next(c for c in base["buildings"].columns if c.name == "theme")
    assert theme.codes[:2] == ("finance", "professional_services") and len(theme.codes) == 10

    no_metro = parse_contract_doc(text.replace(", `metro` |", " |"))
    amenities = next(c for c in no_metro["buildings"].columns if c.name == "amenities")
    assert "metro" not in amenities.codes

    renamed = parse_contract_doc(text.replace("| floors |", "| storeys |"))
    assert "storeys" in [c.name for c in renamed["buildings"].columns]

    optional = parse_contract_doc(
        text.replace("## enterprises (required)", "## enterprises (optional)")
    )
    assert optional["enterprises"].required is False
