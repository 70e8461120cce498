"""``generate_world``: draw a demo world, simulate its history and write a data-contract v1
folder plus the hidden truth in ``_truth/``. Deterministic for a seed (same bytes).

With ``hidden_months`` the history runs on past the end date; the folder holds the registry as
of the end date and ``_truth/hidden/`` the tenancies and events through the hidden months."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tenantmatch import registry
from tenantmatch.registry import InputError
from tenantmatch.training.demo import catalog as cat
from tenantmatch.training.demo.choice import Buildings, ChainLookup, Firms
from tenantmatch.training.demo.events import draw_events
from tenantmatch.training.demo.firms import draw_enterprises
from tenantmatch.training.demo.history import simulate
from tenantmatch.training.demo.links import draw_links
from tenantmatch.training.demo.params import WorldParams
from tenantmatch.training.demo.population import draw_buildings
from tenantmatch.training.demo.truth import (
    HIDDEN_DIR,
    TRUTH_DIR,
    Truth,
    true_affinity,
    write_hidden,
    write_truth,
)

log = logging.getLogger(__name__)

PARQUET_ABOVE = 200_000  # enterprises; bigger worlds are written as Parquet for speed
TABLE_ORDER = ("buildings", "enterprises", "links", "tenancies", "events")


@dataclass(frozen=True)
class WorldInfo:
    """Where a generated world is: table files, truth files, row counts and its as-of date."""

    out_dir: Path
    files: dict[str, Path]
    truth_dir: Path
    truth_files: dict[str, Path]
    rows: dict[str, int]
    as_of: pd.Timestamp  # the end date of the history: the data are "as of" this day
    hidden_dir: Path | None = None  # tenancies and events through the hidden months, if any


def generate_world(out_dir: Path, params: WorldParams, *, progress: bool = False) -> WorldInfo:
    """Draw, simulate and write the world into ``out_dir`` (created; files overwritten)."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(params.seed).spawn(6)]
    districts = registry.shanxi_districts()
    buildings = draw_buildings(streams[0], params, districts)
    enterprises, latent = draw_enterprises(streams[1], params, districts)
    latent["employees_end"] = enterprises["employees"].to_numpy(float)
    affinity = true_affinity(streams[2], registry.theme_industry_prior())
    firms = Firms.from_latent(latent, enterprises["employees"].to_numpy(float))
    home_city = pd.Categorical(latent["home_city"], categories=list(cat.CITY_SHARES)).codes
    links = draw_links(
        streams[2], div=firms.division, city=home_city.astype(np.int64),
        employees=firms.employees_end, big=firms.big(),
    )  # fmt: skip
    ctx = {
        "firms": firms,
        "buildings": Buildings.from_frame(buildings),
        "latent": latent,
        "affinity": affinity,
        "chain": _chain(links, len(latent), directed=params.rates.downstream_only),
        "founded_day": enterprises["founded"].to_numpy().astype("datetime64[D]"),
        "cities": list(cat.CITY_SHARES),
    }
    history = simulate(streams[3], params, ctx, progress=progress)
    end = np.datetime64(params.end, "D")
    last = np.datetime64(pd.Timestamp(params.end) + pd.DateOffset(months=params.hidden_months), "D")
    events = draw_events(
        streams[4], history.moves, n_firms=len(latent), n_buildings=len(buildings),
        window=(np.datetime64(params.start, "D"), last), records=params.records,
    )  # fmt: skip
    observed = enterprises.assign(
        employees=_noisy_headcount(streams[5], enterprises["employees"].to_numpy(), params)
    )
    tables = _contract_tables(
        buildings,
        observed,
        latent,
        links,
        _as_of(history.tenancies, end),
        events[events["date"] <= end],
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    fmt = "parquet" if params.enterprises > PARQUET_ABOVE else "csv"
    files = {
        name: _write(_drop(tables[name], name, params), out_dir / f"{name}.{fmt}")
        for name in TABLE_ORDER
    }
    latent_out = latent[["enterprise_id", *[c for c in latent.columns if c != "enterprise_id"]]]
    truth = Truth(params=params, latent=latent_out, affinity=affinity, buildings=buildings)
    truth_files = write_truth(out_dir / TRUTH_DIR, truth)
    hidden = None
    if params.hidden_months:
        full = _contract_tables(buildings, observed, latent, links, history.tenancies, events)
        hidden = out_dir / TRUTH_DIR / HIDDEN_DIR
        write_hidden(hidden, {n: full[n] for n in ("tenancies", "events")}, write=_write)
    rows = {name: len(t) for name, t in tables.items()}
    log.info("demo world in %s: %s", out_dir, rows)
    return WorldInfo(
        out_dir, files, out_dir / TRUTH_DIR, truth_files, rows, pd.Timestamp(params.end), hidden
    )


def _chain(links: pd.DataFrame, n: int, *, directed: bool) -> ChainLookup:
    """The partner lookup of the drawn links (integer enterprise indices)."""
    source, target = links["source"].to_numpy(), links["target"].to_numpy()
    return ChainLookup(source, target, links["weight"].to_numpy(float), n, directed=directed)


def with_hidden_months(world_dir: Path, out_dir: Path) -> Path:
    """A contract folder ``out_dir`` of the world in ``world_dir`` as it stands at the end of
    its hidden months: its buildings, enterprises and links files, and the tenancies and events
    of ``_truth/hidden/``. For grading the year after the registry ends, never for training."""
    hidden = world_dir / TRUTH_DIR / HIDDEN_DIR
    if not hidden.is_dir():
        raise InputError(f"{world_dir}: no {TRUTH_DIR}/{HIDDEN_DIR}/; generate with hidden_months")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in TABLE_ORDER:
        source = hidden if name in ("tenancies", "events") else world_dir
        for path in source.glob(f"{name}.*"):
            shutil.copyfile(path, out_dir / path.name)
    return out_dir


def _as_of(tenancies: pd.DataFrame, end: np.datetime64) -> pd.DataFrame:
    """The tenancies as the registry knows them on ``end``: later starts dropped, later ends
    still open."""
    known = tenancies[tenancies["start"] <= end]
    return known.assign(end=known["end"].where(known["end"] <= end))


def _noisy_headcount(
    rng: np.random.Generator, employees: np.ndarray, params: WorldParams
) -> np.ndarray:
    """The registered headcount: the true one times lognormal noise (``employee_noise_sd``),
    a third of the noisy ones rounded to a bracket's lower bound as registries report them."""
    sd = params.records.employee_noise_sd
    noise = rng.lognormal(0.0, sd, employees.size) if sd > 0 else np.ones(employees.size)
    noisy = np.maximum(np.round(employees * noise), 1).astype(np.int64)
    if sd <= 0:
        return employees
    brackets = np.array([1, 10, 20, 50, 100, 300, 500, 1000, 5000])
    bracket = brackets[np.searchsorted(brackets, noisy, side="right") - 1]
    return np.where(rng.random(employees.size) < 1 / 3, bracket, noisy)


def _drop(table: pd.DataFrame, name: str, params: WorldParams) -> pd.DataFrame:
    """The table without the optional columns the world leaves out."""
    gone = [c.split(".", 1)[1] for c in params.records.drop_columns if c.startswith(f"{name}.")]
    return table.drop(columns=gone)


def _contract_tables(
    buildings: pd.DataFrame,
    enterprises: pd.DataFrame,
    latent: pd.DataFrame,
    links: pd.DataFrame,
    ten: pd.DataFrame,
    events: pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    """The five tables in contract columns, ids instead of indices, the end state of ``ten``
    (the simulated tenancies) applied."""
    bid = buildings["building_id"].to_numpy()
    eid = enterprises["enterprise_id"].to_numpy()
    occupied = np.bincount(
        ten.loc[ten["end"].isna(), "building"],
        weights=ten.loc[ten["end"].isna(), "area_m2"],
        minlength=len(bid),
    )
    total = buildings["total_area_m2"].to_numpy(float)
    b = buildings.assign(vacant_area_m2=np.round(np.clip(total - occupied, 0.0, total), 2))
    e = _locate(enterprises, latent)
    tenancies = pd.DataFrame(
        {
            "enterprise_id": eid[ten["firm"]],
            "building_id": bid[ten["building"]],
            "area_m2": np.round(ten["area_m2"].to_numpy(float), 2),
            "start_date": ten["start"].to_numpy().astype("datetime64[ns]"),
            "end_date": ten["end"].to_numpy().astype("datetime64[ns]"),
        }
    ).sort_values(["start_date", "enterprise_id"], kind="stable", ignore_index=True)
    link_out = pd.DataFrame(
        {
            "source_id": eid[links["source"]],
            "target_id": eid[links["target"]],
            "relation": links["relation"].to_numpy(),
            "weight": links["weight"].to_numpy(),
        }
    )
    ev = pd.DataFrame(
        {
            "enterprise_id": eid[events["firm"]],
            "building_id": bid[events["building"]],
            "date": events["date"].to_numpy().astype("datetime64[ns]"),
            "stage": events["stage"].to_numpy(),
        }
    )
    return {
        "buildings": b,
        "enterprises": e,
        "links": link_out,
        "tenancies": tenancies,
        "events": ev,
    }


def _locate(enterprises: pd.DataFrame, latent: pd.DataFrame) -> pd.DataFrame:
    """Enterprises with city, district, lat, lon of their registered (home) address.

    The registry address does not follow office moves: were it the end-date office, every
    backtest would see a mover's future building in its location (a leak), so it is the home."""
    located = {
        "city": latent["home_city"].to_numpy(),
        "district": latent["home_district"].to_numpy(),
        "lat": latent["home_lat"].to_numpy(float),
        "lon": latent["home_lon"].to_numpy(float),
    }
    cols = [
        "enterprise_id",
        "name",
        "industry_code",
        "employees",
        "revenue_10k_cny",
        "registered_capital_10k_cny",
        "founded",
    ]
    out = enterprises[cols].assign(**located)
    rest = ["hq_type", "tags", "credit_score", "risk_flags"]
    return pd.concat([out, enterprises[rest]], axis=1)


def _write(table: pd.DataFrame, path: Path) -> Path:
    """CSV (UTF-8, '\\n', ISO dates, empty = missing) or Parquet, by the path's suffix."""
    if path.suffix == ".parquet":
        table.to_parquet(path, index=False)
        return path
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    out.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path
