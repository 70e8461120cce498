"""Chinese wording of the import's row-level reasons, for the staff who fix the files.

The English reasons (``store.validation``, ``store.readers``, ``store.importer``) stay the
reference text that tests and scripts match; :func:`reason_zh` renders each of them in Chinese
from the same facts, by pattern. A reason no pattern knows keeps its English text behind a
Chinese prefix (``tests/store/test_import_aliases.py`` checks that every reason the checks can
give has its own wording).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from tenantmatch.registry import TABLES, TABLES_BY_NAME, RowError, label_zh

UNKNOWN_PREFIX = "数据有误："
_TABLE_ZH = {t.name: t.label_zh for t in TABLES}
_COLUMN_ZH = {c.name: c.label_zh for t in TABLES for c in t.columns}


def column_zh(column: str, *, table: str | None = None) -> str:
    """The Chinese header of a contract column (of ``table`` when given); ``column`` itself when
    it has none."""
    if table in TABLES_BY_NAME and column in TABLES_BY_NAME[table].column_names:
        return TABLES_BY_NAME[table].column(column).label_zh or column
    return _COLUMN_ZH.get(column, column)


def _col(name: str) -> str:
    zh = _COLUMN_ZH.get(name)
    return f"“{zh}”（{name}）" if zh else f"“{name}”"


def _codes(text: str) -> str:
    """``a, b`` codes as ``中文（a）、中文（b）``."""
    codes = [c.strip() for c in text.split(",")]
    return "、".join(f"{label_zh(c)}（{c}）" if label_zh(c) != c else c for c in codes)


def _bounds(text: str) -> str:
    words = {">=": "不小于", ">": "大于", "<=": "不大于"}
    parts = []
    for part in text.split(" and "):
        op, value = part.split(" ", 1)
        parts.append(f"{words.get(op, op)} {value}")
    return "且".join(parts)


Render = Callable[[re.Match[str]], str]
# (English pattern, Chinese rendering), first match wins.
_PATTERNS: tuple[tuple[str, Render], ...] = (
    (r"required: the cell is empty", lambda m: "必填项为空"),
    (r"longer than (\d+) characters", lambda m: f"超过 {m[1]} 个字符"),
    (r"an id may not contain spaces, control characters or '/'",
     lambda m: "编号不得包含空格、控制字符或“/”"),
    (r"may not contain control characters", lambda m: "不得包含控制字符"),
    (r"looks like a number Excel wrote in scientific notation .*",
     lambda m: "疑似被 Excel 改写为科学计数法的编号（如 1.23E+11），原数字已丢失；"
     "请将编号列设为文本后重新导出"),
    (r"not a number: expected a decimal such as 1200\.5(?: \(units allowed: (.+)\))?",
     lambda m: "不是数字：应为数值，如 1200.5 或 15,180"
     + (f"（可带单位：{m[1]}）" if m[1] else "")),
    (r"must be a finite number .*", lambda m: "必须是有限的数值（不接受 NaN 或无穷大）"),
    (r"must be a whole number", lambda m: "必须是整数"),
    (r"must be <= (\w*[a-z]\w*) \((.*)\)", lambda m: f"不得大于{_col(m[1])}（{m[2]}）"),
    (r"must be on or after (\w+) \((.*)\)", lambda m: f"不得早于{_col(m[1])}（{m[2]}）"),
    (r"must differ from (\w+) \((.*)\)", lambda m: f"不得与{_col(m[1])}相同"),
    (r"must be ((?:[<>]=? [-0-9.e+]+(?: and )?)+) \(inside China\)",
     lambda m: f"必须{_bounds(m[1])}（须在中国境内）"),
    (r"must be ((?:[<>]=? [-0-9.e+]+(?: and )?)+)", lambda m: f"必须{_bounds(m[1])}"),
    (r"not a date: expected YYYY-MM-DD, YYYY/MM/DD or YYYY年MM月DD日( or a year YYYY)?",
     lambda m: "不是日期：应为 YYYY-MM-DD、YYYY/MM/DD 或 YYYY年MM月DD日"
     + ("，或年份 YYYY" if m[1] else "")),
    (r"year must be between (\d+) and (\d+)", lambda m: f"年份须在 {m[1]} 至 {m[2]} 之间"),
    (r"date (.*) does not exist", lambda m: f"日期 {m[1]} 不存在"),
    (r"must be one of: (.*)", lambda m: f"须为以下之一：{_codes(m[1])}"),
    (r"item '(.*)' must be one of: (.*)",
     lambda m: f"“{m[1]}”不是允许的取值，每项须为：{_codes(m[2])}"),
    (r"must be a GB/T 4754-2017 code: .*",
     lambda m: "须为 GB/T 4754-2017 行业代码：2 至 4 位数字，可带门类字母，如 66、6621 或 J66"),
    (r"division (\w+) does not exist in GB/T 4754-2017",
     lambda m: f"行业大类 {m[1]} 在 GB/T 4754-2017 中不存在"),
    (r"section (\w+) does not contain division (\w+) \(it belongs to section (\w+)\)",
     lambda m: f"门类 {m[1]} 不含大类 {m[2]}（该大类属于门类 {m[3]}）"),
    (r"refers to a row of (\w+) that was rejected",
     lambda m: f"引用的{_TABLE_ZH.get(m[1], m[1])}记录本身未通过校验"),
    (r"unknown id: not in (\w+) of this dataset nor in the database",
     lambda m: f"编号不存在：本数据集和数据库的{_TABLE_ZH.get(m[1], m[1])}中都没有"),
    (r"duplicate (\w+): first seen on row (\d+)",
     lambda m: f"{_col(m[1])}重复：首次出现在第 {m[2]} 行"),
    (r"duplicate row: same (.*) as row (\d+) but other values",
     lambda m: f"重复记录：{'、'.join(_col(c.strip()) for c in m[1].split(','))}与第 {m[2]} 行"
     "相同，但其他列不同"),
    (r"column '(.*)' appears more than once in the header",
     lambda m: f"表头中的列“{m[1]}”出现了不止一次（中文表头与英文列名指同一列时也算重复）"),
    (r"required column '(\w+)' is missing; columns found: (.*)",
     lambda m: f"缺少必需列{_col(m[1])}；文件中的列：{m[2]}"),
    (r"row has (\d+) cells but the header has (\d+)",
     lambda m: f"该行有 {m[1]} 个单元格，但表头有 {m[2]} 列"),
    (r"file is empty \(0 bytes\); expected a header row",
     lambda m: "文件为空（0 字节），应有表头行"),
    (r"file has no header row", lambda m: "文件没有表头行"),
    (r"cannot decode the file: .*", lambda m: "无法读取文件编码：应为 UTF-8 或 GBK/GB18030 文本"),
    (r"no rows: the (\w+) table is required and needs data rows",
     lambda m: f"没有数据行：{_TABLE_ZH.get(m[1], m[1])}表是必需的，须有数据行"),
)  # fmt: skip
_COMPILED = tuple((re.compile(p), render) for p, render in _PATTERNS)


@functools.lru_cache(maxsize=4096)
def reason_zh(reason: str) -> str:
    """The Chinese wording of an English import reason; unknown reasons keep their English
    text after :data:`UNKNOWN_PREFIX`."""
    for pattern, render in _COMPILED:
        match = pattern.fullmatch(reason)
        if match:
            return render(match)
    return UNKNOWN_PREFIX + reason


def row_error(file: str, row: int, column: str, value: str, reason: str) -> RowError:
    """A ``RowError`` with its Chinese reason filled in."""
    return RowError(file, row, column, value, reason, reason_zh(reason))


def error_record(error: RowError, *, table: str | None = None) -> dict[str, Any]:
    """JSON-ready row report entry: ``file, row, column, column_zh, value, reason, reason_zh``
    (the column's Chinese header of ``table``; "" for a whole-row problem)."""
    return {
        "file": error.file, "row": error.row, "column": error.column,
        "column_zh": column_zh(error.column, table=table) if error.column else "",
        "value": error.value, "reason": error.reason,
        "reason_zh": error.reason_zh or reason_zh(error.reason),
    }  # fmt: skip
