"""The bad-input catalogue (issue 21, item 7), against the JSON write routes and the importer
(CSV upload and ``store.import_dataset``): NaN/Infinity, huge and negative numbers, NUL, lone
surrogates, bidirectional marks, SQL strings, path tricks, duplicate/unknown/deleted ids,
Excel-mangled ids, formula cells. Every case answers 4xx (or a row error) naming the field,
changes nothing (data_version, row counts and the tried row compared), and never a 500."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tenantmatch.registry import TABLES_BY_NAME, ValidationFailed
from tenantmatch.store import Repository, delete_building, import_dataset
from tests.api.conftest import Service, World, start_service
from tests.store.contract_folder import tiny_dataset, write_contract_folder

B, D = "{own}", "{deleted}"  # a real building of op_own's, a deleted one
SQL = "x'; DROP TABLE buildings; --"
HUGE_NAME = "长" * 100_000
HUGE_ID = "E" * 5008


def raw(body: str) -> dict[str, Any]:
    return {"content": body.encode("utf-8", "surrogatepass"),
            "headers": {"content-type": "application/json"}}  # fmt: skip


def new_building(**fields: Any) -> dict[str, Any]:
    base = {"building_id": "NEW-CAT-1", "name": "新楼", "city": "太原市", "district": "小店区",
            "theme": "general", "total_area_m2": 1000, "vacant_area_m2": 100}  # fmt: skip
    return {"json": {**base, **fields}}


def move(enterprise_id: str, building_id: str = B) -> dict[str, Any]:
    return {"json": {"enterprise_id": enterprise_id, "building_id": building_id,
                     "start_date": "2026-01-01", "area_m2": 10}}  # fmt: skip


# (name, method, path, request, allowed statuses, the field the message must name or None)
API_CASES: list[tuple[str, str, str, dict[str, Any], set[int], str | None]] = [
    ("nan", "PUT", f"/v1/buildings/{B}", raw('{"total_area_m2": NaN}'), {422}, "total_area_m2"),
    ("infinity", "PUT", f"/v1/buildings/{B}", raw('{"total_area_m2": Infinity}'), {422},
     "total_area_m2"),
    ("overflow 1e400", "PUT", f"/v1/buildings/{B}", raw('{"total_area_m2": 1e400}'), {422},
     "total_area_m2"),
    ("huge 1e300", "PUT", f"/v1/buildings/{B}", raw('{"total_area_m2": 1e300}'), {400, 422},
     "total_area_m2"),
    ("huge int", "PUT", f"/v1/buildings/{B}", {"json": {"floors": 10**30}}, {422}, "floors"),
    ("negative area", "PUT", f"/v1/buildings/{B}", {"json": {"vacant_area_m2": -1}}, {422},
     "vacant_area_m2"),
    ("negative floors", "PUT", f"/v1/buildings/{B}", {"json": {"floors": -3}}, {422}, "floors"),
    ("NUL", "PUT", f"/v1/buildings/{B}", {"json": {"name": "大厦\x00"}}, {422}, "name"),
    ("lone surrogate", "PUT", f"/v1/buildings/{B}", raw('{"name": "\\ud800大厦"}'), {422}, "name"),
    ("RTL override", "PUT", f"/v1/buildings/{B}", {"json": {"name": "大厦\u202etxt.exe"}}, {422},
     "name"),
    ("LRM mark", "PUT", f"/v1/buildings/{B}", {"json": {"district": "小店区\u200e"}}, {422},
     "district"),
    ("huge name", "PUT", f"/v1/buildings/{B}", {"json": {"name": "长" * 20_000}}, {422}, "name"),
    ("huge body", "PUT", f"/v1/buildings/{B}", {"json": {"name": HUGE_NAME}}, {413}, None),
    ("formula number", "PUT", f"/v1/buildings/{B}", {"json": {"total_area_m2": "=1+1"}}, {422},
     "total_area_m2"),
    ("SQL in id (path)", "PUT", "/v1/enterprises/x'%3B%20DROP%20TABLE%20enterprises%3B--",
     {"json": {"name": "x"}}, {422}, "enterprise_id"),
    ("SQL in id (body)", "POST", "/v1/buildings", new_building(building_id=SQL), {422},
     "building_id"),
    ("SQL in enum", "POST", "/v1/events",
     {"json": {"enterprise_id": "E1", "building_id": B, "date": "2026-01-01",
               "stage": "visit' OR '1'='1"}}, {422}, "stage"),
    ("slash in id", "POST", "/v1/buildings", new_building(building_id="a/b"), {422},
     "building_id"),
    ("dot-dot id", "POST", "/v1/buildings", new_building(building_id="../etc"), {422},
     "building_id"),
    ("%2F path", "PUT", "/v1/buildings/..%2F..%2Fetc%2Fpasswd", {"json": {"name": "x"}},
     {404, 405}, None),
    ("encoded dot-dot", "GET", "/v1/buildings/%2E%2E", {}, {404}, None),
    ("huge id", "POST", "/v1/buildings", new_building(building_id=HUGE_ID), {422},
     "building_id"),
    ("duplicate id", "POST", "/v1/buildings", new_building(building_id=B), {409}, "building_id"),
    ("unknown id", "POST", "/v1/tenancies/move-in", move("NO-SUCH-FIRM"), {404}, "enterprise_id"),
    ("deleted id", "DELETE", f"/v1/buildings/{D}", {}, {404}, "building_id"),
    ("deleted id (PUT creates)", "PUT", f"/v1/buildings/{D}", {"json": {"name": "复活"}}, {400},
     "city"),
    ("deleted id move-in", "POST", "/v1/tenancies/move-in", move("NO-SUCH", D), {404},
     "_id"),
    ("Excel id (body)", "POST", "/v1/tenancies/move-in", move("1.23E+11"), {422},
     "enterprise_id"),
    ("Excel id (path)", "PUT", "/v1/enterprises/1.23E+11", {"json": {"name": "x"}}, {422},
     "enterprise_id"),
    ("unknown field", "PUT", f"/v1/buildings/{B}", {"json": {"credit": 1}}, {422}, "credit"),
]  # fmt: skip


@pytest.fixture(scope="module")
def svc(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    for s in start_service(world, tmp_path_factory.mktemp("catalogue")):
        s.deleted = s.fresh_building(s.own_operator)  # type: ignore[attr-defined]
        delete_building(s.repo, s.deleted)  # type: ignore[attr-defined]
        yield s


def _state(s: Service) -> tuple[int, dict[str, int], dict[str, Any] | None]:
    row = s.repo.get_row("buildings", {"building_id": s.own_building})
    return s.repo.data_version(), s.repo.counts(), row


def _fill(s: Service, value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(B, s.own_building).replace(D, s.deleted)  # type: ignore[attr-defined]
    if isinstance(value, dict):
        return {k: _fill(s, v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("name", "method", "path", "request_", "statuses", "field"), API_CASES,
                         ids=[c[0] for c in API_CASES])  # fmt: skip
def test_api_write_refuses_and_changes_nothing(
    svc: Service, name: str, method: str, path: str, request_: dict[str, Any],
    statuses: set[int], field: str | None,
) -> None:  # fmt: skip
    before = _state(svc)
    kwargs = dict(request_)
    if "content" in kwargs:
        kwargs["content"] = kwargs["content"].decode("utf-8", "surrogatepass").replace(
            B, svc.own_building).encode("utf-8", "surrogatepass")  # fmt: skip
    if "json" in kwargs:
        kwargs["json"] = _fill(svc, kwargs["json"])
    headers = {**kwargs.pop("headers", {}), **svc.headers("admin")}
    answer = svc.client.request(method, _fill(svc, path), headers=headers, **kwargs)

    assert answer.status_code in statuses, answer.text[:300]
    error = answer.json()["error"]
    if field is not None:
        assert field in error["message"], error["message"][:300]
    assert len(answer.content) < 20_000  # the huge value is not echoed back whole
    assert _state(svc) == before


# -- the importer: (column, bad cell) of one buildings row -------------------------------------

IMPORT_CASES: list[tuple[str, str, str]] = [
    ("nan", "total_area_m2", "NaN"),
    ("infinity", "total_area_m2", "Infinity"),
    ("overflow", "total_area_m2", "1e400"),
    ("negative", "vacant_area_m2", "-5"),
    ("huge int", "floors", "1" + "0" * 30),
    ("formula in number", "total_area_m2", "=1+1"),
    ("formula HYPERLINK", "vacant_area_m2", '=HYPERLINK("http://evil.example","点我")'),
    ("NUL", "name", "大厦\x00"),
    ("RTL override", "name", "大厦\u202etxt.exe"),
    ("huge name", "name", HUGE_NAME),
    ("huge id", "building_id", HUGE_ID),
    ("slash id", "building_id", "B/1"),
    ("dot-dot id", "building_id", "../B1"),
    ("SQL id", "building_id", SQL),
    ("Excel id", "building_id", "1.23E+11"),
    ("Excel id lower", "building_id", "6.1e+17"),
    ("SQL enum", "theme", "finance' OR '1'='1"),
    ("unknown operator ref", "operator_id", "OP/../1"),
]


def _building_csv(column: str, value: str) -> bytes:
    row = {c.name: "" for c in TABLES_BY_NAME["buildings"].columns}
    row |= {"building_id": "CAT-1", "name": "目录测试大厦", "city": "太原市",
            "district": "小店区", "theme": "finance", "total_area_m2": "1000",
            "vacant_area_m2": "100"}  # fmt: skip
    row[column] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    return out.getvalue().encode("utf-8")


@pytest.mark.parametrize(("name", "column", "value"), IMPORT_CASES,
                         ids=[c[0] for c in IMPORT_CASES])  # fmt: skip
def test_upload_refuses_the_row_naming_the_column(
    svc: Service, name: str, column: str, value: str
) -> None:
    before = _state(svc)
    answer = svc.client.post(
        "/v1/admin/import", headers=svc.headers("admin"), data={"table": "buildings"},
        files={"file": ("b.csv", io.BytesIO(_building_csv(column, value)), "text/csv")},
    )  # fmt: skip
    assert answer.status_code == 400, answer.text[:300]
    error = answer.json()["error"]
    assert error["code"] == "invalid_data"
    assert column in {e["column"] for e in error["errors"]}, error["errors"]
    assert all(len(e["value"]) <= 200 for e in error["errors"])
    assert _state(svc) == before


def test_upload_duplicate_and_deleted_ids(svc: Service) -> None:
    before = _state(svc)
    one = _building_csv("building_id", "DUP-1").decode()
    twice = (one + one.splitlines()[1].replace("1000", "2000") + "\n").encode()
    answer = svc.client.post("/v1/admin/import", headers=svc.headers("admin"),
                             data={"table": "buildings"},
                             files={"file": ("b.csv", io.BytesIO(twice), "text/csv")})  # fmt: skip
    assert answer.status_code == 400
    assert {e["column"] for e in answer.json()["error"]["errors"]} == {"building_id"}
    deleted = svc.deleted  # type: ignore[attr-defined]
    tenancy = f"enterprise_id,building_id,start_date,area_m2\nNO-SUCH,{deleted},2026-01-01,10\n"
    answer = svc.client.post("/v1/admin/import", headers=svc.headers("admin"),
                             data={"table": "tenancies"},
                             files={"file": ("t.csv", io.BytesIO(tenancy.encode()),
                                             "text/csv")})  # fmt: skip
    assert answer.status_code == 400
    columns = {e["column"] for e in answer.json()["error"]["errors"]}
    assert {"enterprise_id", "building_id"} <= columns
    assert _state(svc) == before


@pytest.mark.parametrize(("name", "column", "value"),
                         [c for c in IMPORT_CASES if "\x00" not in c[2]],
                         ids=[c[0] for c in IMPORT_CASES if "\x00" not in c[2]])  # fmt: skip
def test_import_dataset_refuses_the_row_naming_the_column(
    tmp_path: Path, name: str, column: str, value: str
) -> None:
    repo = Repository(f"sqlite:///{tmp_path / 'c.db'}")
    data = tiny_dataset()
    data["buildings"][1][column] = value
    if column == "building_id":  # nothing else refers to the second building
        for table in ("tenancies", "events"):
            data[table] = [r for r in data[table] if r.get("building_id") != "B2"]
    with pytest.raises(ValidationFailed) as refused:
        import_dataset(write_contract_folder(tmp_path / "f", data), repo)
    assert column in {e.column for e in refused.value.errors}
    assert repo.counts() == dict.fromkeys(repo.counts(), 0) and repo.data_version() == 0
    repo.close()
