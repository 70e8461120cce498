"""``tenantmatch``: one console script over the matching engine, the training job and the service.

Exit codes (docs/interface.md): 0 success, 2 bad input or a database schema that needs
`tenantmatch db upgrade` (message on stderr), 1 anything else.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from tenantmatch import __version__, output
from tenantmatch.api import Settings
from tenantmatch.api.answers import remove_shared_answers
from tenantmatch.matching import STALE_AFTER_DAYS, Engine, PoolRules
from tenantmatch.registry import InputError, TenantmatchError, reference_location
from tenantmatch.store import (
    HOME_ENV,
    AuditNote,
    Repository,
    SchemaOutdatedError,
    audit,
    audit_csv,
    backup_database,
    cli_actor,
    create_key,
    home,
    import_dataset,
    list_keys,
    redacted_url,
    restore_database,
    revoke_key,
    upgrade_database,
)
from tenantmatch.training import TrainResult, evaluate_current, train_and_publish
from tenantmatch.training.demo import (
    WORLDS,
    PreferenceWeights,
    WorldParams,
    generate_world,
    suite_world,
)

log = logging.getLogger("tenantmatch")

app = typer.Typer(
    name="tenantmatch",
    help="Tenant-attraction matchmaking for office buildings (楼宇招商匹配).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tenantmatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Tenant-attraction matchmaking for office buildings (楼宇招商匹配)."""


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="TENANTMATCH_DB",
        help="Database URL (default: SQLite under TENANTMATCH_HOME, see 'tenantmatch info').",
    ),
]
ModelsOpt = Annotated[
    Path | None,
    typer.Option(
        "--models",
        envvar="TENANTMATCH_MODELS",
        help="Model store (default: models/ under TENANTMATCH_HOME, see 'tenantmatch info').",
    ),
]
TRUTH_META_KEY = "demo_truth_dir"
# Errors raised on purpose, by any layer: their message is the whole report (no traceback).
KNOWN_ERRORS: tuple[type[Exception], ...] = (TenantmatchError,)  # every layer's errors derive it
# Those of them that blame the caller (exit 2): bad input (an unknown id included, whichever layer
# notices it), and a database whose schema needs `tenantmatch db upgrade`.
BAD_INPUT_ERRORS: tuple[type[Exception], ...] = (InputError, SchemaOutdatedError)
CONTRACT_CODES = (0, 1, 2)  # interface.md: success, anything else, bad input
# The demo world's default size: trains within 4 GB (5,000 enterprises: 2.9 GB for the whole
# process tree, about 2 minutes on 2 cores; 10,000: 4.5 GB; measured 2026-12-07, README).
DEFAULT_ENTERPRISES = 5_000


class Format(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    xlsx = "xlsx"


class Weights(StrEnum):
    default = "default"
    alternative = "alternative"


def _settings(db: str | None, models: Path | None, **extra: Any) -> Settings:
    """Settings from the environment, overridden by the options given on the command line."""
    given: dict[str, Any] = {"db": db, "models": models, **extra}
    try:
        return Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        raise InputError(str(exc)) from exc


def _truth_dir(repo: Repository) -> Path | None:
    stored = repo.get_meta(TRUTH_META_KEY)
    return Path(stored) if stored and Path(stored).is_dir() else None


def _clear_demo_registry(repo: Repository) -> None:
    """A demo replaces an earlier demo world, but never a real registry."""
    counts = repo.counts()
    if (counts["buildings"] or counts["enterprises"]) and repo.get_meta(TRUTH_META_KEY) is None:
        raise InputError(
            f"database {repo.url} already holds a registry that is not a demo world; "
            "give the demo its own database with --db"
        )
    deleted = repo.clear_registry()
    if any(deleted.values()):
        audit(repo, None, actor=cli_actor(), action="registry.clear", detail={"deleted": deleted})


def _echo_training(result: TrainResult) -> None:
    typer.echo(result.table)
    state = "promoted to current" if result.promoted else "kept as a rejected candidate"
    typer.echo(f"\nmodel {result.version}: {state} ({result.reason})\nreport: {result.report}")
    refit = f", refit on every window (fitted to the cut: {result.validated_version})"
    typer.echo(f"system: {result.system}{refit if result.validated_version else ''}")


def _cli_note(action: str, **detail: Any) -> AuditNote:
    """The audit note of a command's registry write, naming ``cli:<os user>``."""
    return AuditNote(key_id=cli_actor(), action=action, detail=detail)


def _audit_training(repo: Repository, result: TrainResult) -> None:
    action = "model.promote" if result.promoted else "model.reject"
    audit(repo, None, actor=cli_actor(), action=action, target=result.version,
          detail={"reason": result.reason})  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _list_worlds() -> None:
    for w in WORLDS:
        flag = " [reserved]" if w.reserved else ""
        typer.echo(f"{w.name}{flag}: {w.enterprises} enterprises, seed {w.seed}; {w.description}")


def _demo_params(world: str | None, *, enterprises: int | None, seed: int | None,
                 weights: Weights) -> tuple[WorldParams, str]:  # fmt: skip
    """The world's parameters and folder name: a named suite world (``enterprises``/``seed``
    override its own when given) or the default world with those options."""
    if world is not None:
        if weights is not Weights.default:
            raise InputError("--weights applies to the default world; a named world has its own")
        params = suite_world(world).params
        params = replace(params, enterprises=enterprises or params.enterprises,
                         seed=params.seed if seed is None else seed)  # fmt: skip
        return params, f"{world}-s{params.seed}-n{params.enterprises}"
    seed, enterprises = seed or 0, enterprises or DEFAULT_ENTERPRISES
    pref = (
        PreferenceWeights() if weights is Weights.default else PreferenceWeights.alternative(seed)
    )
    params = WorldParams(enterprises=enterprises, seed=seed, weights=pref)
    return params, f"{weights.value}-s{seed}-n{enterprises}"


@app.command()
def demo(
    enterprises: Annotated[
        int | None, typer.Option(min=100, help="Number of enterprises (default 5,000).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed; the same seed gives the same world.")
    ] = None,
    weights: Annotated[Weights, typer.Option(help="Movers' preference weights.")] = Weights.default,
    world: Annotated[
        str | None, typer.Option(help="A named world of the suite (see --list-worlds).")
    ] = None,
    list_worlds: Annotated[
        bool, typer.Option("--list-worlds", help="List the named worlds and exit.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Folder for the generated dataset.")] = None,
    train: Annotated[bool, typer.Option(help="Train a model after the import.")] = True,
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Generate the synthetic Shanxi dataset (data contract v1), import it, train."""
    if list_worlds:
        _list_worlds()
        return
    settings = _settings(db, models)
    params, name = _demo_params(world, enterprises=enterprises, seed=seed, weights=weights)
    folder = out or settings.models.parent / "demo" / name
    info = generate_world(folder, params, progress=True)
    output.info(f"demo world written to {folder}")
    repo = Repository(settings.db)
    _clear_demo_registry(repo)
    report = import_dataset(folder, repo, progress=True, audit=_cli_note("import", demo=name))
    repo.set_meta(TRUTH_META_KEY, str(info.truth_dir))
    output.info(str(report))
    if train:
        result = train_and_publish(
            repo.load_tables(),
            store=settings.models,
            truth_dir=info.truth_dir,
            created=_now(),
            progress=True,
        )
        _audit_training(repo, result)
        _echo_training(result)
    typer.echo(f"database: {settings.db}\nmodels:   {settings.models}\ndataset:  {folder}")


@app.command("import")
def import_(
    folder: Annotated[Path, typer.Argument(help="A data-contract v1 folder.")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows, write the rejects.")
    ] = False,
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Load a data-contract folder (all-or-nothing unless --skip-invalid)."""
    settings = _settings(db, models)
    note = _cli_note("import", skip_invalid=skip_invalid)
    report = import_dataset(
        folder, Repository(settings.db), skip_invalid=skip_invalid, progress=True, audit=note
    )
    typer.echo(str(report))


@app.command()
def train(
    dask: Annotated[
        str | None,
        typer.Option("--dask", help="Dask scheduler address (tcp://host:8786); see docs/dask.md."),
    ] = None,
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Train, evaluate against the current model and baselines, promote only if not worse."""
    settings = _settings(db, models)
    repo = Repository(settings.db)
    fitter = None
    if dask is not None:
        from tenantmatch.training.distributed import dask_fitter

        fitter = dask_fitter(dask)
    result = train_and_publish(
        repo.load_tables(),
        store=settings.models,
        truth_dir=_truth_dir(repo),
        created=_now(),
        progress=True,
        fitter=fitter,
    )
    _audit_training(repo, result)
    _echo_training(result)


@app.command("batch-shortlists")
def batch_shortlists_(
    dask: Annotated[str, typer.Option("--dask", help="Dask scheduler address (tcp://host:8786).")],
    out: Annotated[Path, typer.Option(help="jsonl file to write, one line per building.")],
    k: Annotated[int, typer.Option(help="Items per building (1-500).")] = 20,
    include_risky: Annotated[
        bool, typer.Option("--include-risky", help="Keep risk-flagged enterprises, with warnings.")
    ] = False,
    full_scan: Annotated[
        bool,
        typer.Option("--full-scan", help="Score every feasible enterprise, not only the M best."),
    ] = False,
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Score every building's shortlist on a Dask cluster into a jsonl file (see docs/dask.md)."""
    from tenantmatch.training.distributed import batch_shortlists, connect

    settings = _settings(db, models)
    engine = Engine(Repository(settings.db), settings.models, as_of=date.today())
    with connect(dask) as client:
        lines = batch_shortlists(
            client, engine.state(), out=out, k=k, rules=PoolRules(include_risky=include_risky),
            max_scored=None if full_scan else engine.max_scored,
        )  # fmt: skip
    typer.echo(f"{lines} shortlists written to {out}")


@app.command()
def evaluate(db: DbOpt = None, models: ModelsOpt = None) -> None:
    """Metrics of the current model and the baselines on the held-out time window."""
    settings = _settings(db, models)
    repo = Repository(settings.db)
    table = evaluate_current(repo.load_tables(), store=settings.models, truth_dir=_truth_dir(repo))
    typer.echo(output.frame_table(table))


@app.command()
def shortlist(
    building: Annotated[list[str] | None, typer.Option("--building", help="Building id.")] = None,
    enterprise: Annotated[
        list[str] | None, typer.Option("--enterprise", help="Enterprise id.")
    ] = None,
    k: Annotated[int, typer.Option(help="Items per query (1-500).")] = 10,
    fmt: Annotated[
        Format,
        typer.Option("--format", help="table, jsonl, csv or xlsx (xlsx needs --output)."),
    ] = Format.table,
    out: Annotated[
        Path | None,
        typer.Option("--output", help="Write csv or xlsx to this file instead of stdout."),
    ] = None,
    include_risky: Annotated[
        bool, typer.Option("--include-risky", help="Keep risk-flagged enterprises, with warnings.")
    ] = False,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Rank the registry as it stood on YYYY-MM-DD: tenancies and events after it "
            "are ignored, tenure and lease features computed at it (default: today). Warns on "
            f"stderr when the newest tenancy or event is over {STALE_AFTER_DAYS} days older.",
        ),
    ] = None,
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Enterprises to court for each building, or buildings that fit each enterprise."""
    if bool(building) == bool(enterprise):
        raise InputError(
            "give --building ID (one or more) or --enterprise ID (one or more), not both"
        )
    output.check_file_format(fmt.value, out)
    settings = _settings(db, models)
    day = as_of.date() if as_of is not None else date.today()
    engine = Engine(Repository(settings.db), settings.models, as_of=day,
                    threads=settings.threads_per_query)  # fmt: skip
    warning = engine.freshness().warning()
    if warning is not None:
        output.warn(warning)
    rules = PoolRules(include_risky=include_risky)
    if building:
        results = engine.shortlist_for_buildings(building, k=k, rules=rules)
    else:
        results = engine.shortlist_for_enterprises(enterprise or [], k=k, rules=rules)
    if fmt is Format.jsonl:
        output.write_jsonl(results)
    elif fmt in (Format.csv, Format.xlsx):
        output.write_shortlists_file(results, fmt.value, out)
    else:
        typer.echo(output.shortlist_table(results))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int | None, typer.Option(help="uvicorn worker processes.")] = None,
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:
    """The HTTP API and the web page (several workers under uvicorn's worker manager)."""
    from tenantmatch.api.server import ConnectionLimits
    from tenantmatch.api.server import serve as serve_app

    settings = _settings(db, models, host=host, port=port, workers=workers)
    _refuse_outdated_schema(settings.db)
    # Workers are separate processes: they read the same settings from the environment.
    settings.export_to_environ()
    output.info(f"tenantmatch serving on http://{settings.host}:{settings.port}/")
    try:
        limits = ConnectionLimits(max_header_kb=settings.max_header_kb,
                                  keep_alive_s=settings.keep_alive_s,
                                  max_connections=settings.max_connections,
                                  read_timeout_s=settings.read_timeout_s)  # fmt: skip
        serve_app(host=settings.host, port=settings.port, workers=settings.workers,
                  worker_timeout_s=settings.worker_timeout_s, limits=limits)  # fmt: skip
    finally:
        remove_shared_answers(settings)  # the workers are gone: nobody reads it any more


@app.command()
def info(db: DbOpt = None, models: ModelsOpt = None) -> None:
    """Where everything is: version, runtime home, database, model store, jobs, reference data."""
    settings = _settings(db, models)
    rows = {
        "version": __version__,
        "home": f"{home()}  ({HOME_ENV} overrides)",
        "database": redacted_url(settings.db),
        "models": str(settings.models),
        "jobs": str(settings.jobs_dir),
        "shared answers": str(settings.shared_cache_dir or "-"),
        "reference data": str(reference_location()),
        "code": str(Path(__file__).resolve().parent),
    }
    for name, value in rows.items():
        typer.echo(f"{name:<15} {value}")


def _refuse_outdated_schema(db: str) -> None:
    """SchemaOutdatedError (exit 2) before any worker starts when the database needs
    ``tenantmatch db upgrade``. Other database failures are the workers' to report: their
    startup fails with the same error (exit 1, see api.server)."""
    try:
        Repository(db).close()
    except SchemaOutdatedError:
        raise
    except TenantmatchError as exc:
        log.info("checking the database before serving failed; the workers will report it: %s",
                 exc)  # fmt: skip


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (replaced whole).")],
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:
    """A consistent copy of the database while it serves (SQLite online backup; pg_dump)."""
    settings = _settings(db, models)
    backup_database(settings.db, file)
    audit(Repository(settings.db), None, action="db.backup", target=str(file),
          detail={"via": "cli"})  # fmt: skip
    typer.echo(f"backed up {redacted_url(settings.db)} to {file}")


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by tenantmatch backup.")],
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Replace the database by a backup (SQLite online backup; pg_restore --clean)."""
    settings = _settings(db, models)
    restore_database(settings.db, file)
    audit(Repository(settings.db), None, action="db.restore", target=str(file),
          detail={"via": "cli"})  # fmt: skip
    typer.echo(f"restored {redacted_url(settings.db)} from {file}")


# -- API keys of the service ------------------------------------------------------------------

keys_app = typer.Typer(
    help="API keys of the HTTP service: shown once at creation, stored only as hashes.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


class KeyRole(StrEnum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"


@keys_app.command("create")
def keys_create(
    role: Annotated[KeyRole, typer.Option(help="viewer, operator or admin.")],
    operator: Annotated[
        str | None, typer.Option("--operator", help="Operator id (required for operators).")
    ] = None,
    expires_days: Annotated[
        int | None,
        typer.Option("--expires-days", min=1, help="Refuse the key after this many days."),
    ] = None,
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Create an API key and print it once (send it in the X-API-Key header)."""
    repo = Repository(_settings(db, models).db)
    created = _now()
    expires_at = None if expires_days is None else created + timedelta(days=expires_days)
    key = create_key(repo, role=role.value, operator_id=operator, created=created,
                     expires_at=expires_at)  # fmt: skip
    key_id = key.split("_")[1]
    until = None if expires_at is None else expires_at.isoformat()
    audit(repo, None, actor=cli_actor(), action="key.create", target=key_id,
          detail={"role": role.value, "operator_id": operator, "via": "cli",
                  "expires_at": until})  # fmt: skip
    typer.echo(key)
    output.info(f"key {key_id} ({role.value}) created; it is shown only this once")


@keys_app.command("list")
def keys_list(db: DbOpt = None, models: ModelsOpt = None) -> None:
    """Every key's id, role, operator and dates (never the key itself)."""
    rows = list_keys(Repository(_settings(db, models).db))
    if not rows:
        output.info("no API keys yet: tenantmatch keys create --role admin")
    for row in rows:
        revoked = row["revoked_at"].isoformat() if row["revoked_at"] else "-"
        expires = row["expires_at"].isoformat() if row["expires_at"] else "never"
        typer.echo(f"{row['key_id']}  {row['role']:<8}  {row['operator_id'] or '-':<16}  "
                   f"created {row['created_at'].isoformat()}  revoked {revoked}  "
                   f"expires {expires}")  # fmt: skip


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (16 hex digits) from keys list.")],
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Revoke a key; requests with it answer 401 from now on."""
    repo = Repository(_settings(db, models).db)
    changed = revoke_key(repo, key_id)
    audit(repo, None, actor=cli_actor(), action="key.revoke", target=key_id, detail={"via": "cli"})
    typer.echo(f"revoked {key_id}" if changed else f"{key_id} was already revoked")


# -- the database's schema --------------------------------------------------------------------

db_app = typer.Typer(help="The database's schema (migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None, models: ModelsOpt = None) -> None:
    """Bring the database's schema to this version's (creates an empty one); back it up first."""
    settings = _settings(db, models)
    done = upgrade_database(settings.db)
    if done.changed:
        with Repository(settings.db) as repo:
            audit(repo, None, actor=cli_actor(), action="db.upgrade",
                  detail={"before": done.before, "after": done.after})  # fmt: skip
    if done.before is None:
        typer.echo(f"created the schema at revision {done.after} in {settings.db}")
    elif done.changed:
        typer.echo(f"upgraded {settings.db} from revision {done.before} to {done.after}")
    else:
        typer.echo(f"{settings.db} is already at revision {done.after}")


# -- the audit log ------------------------------------------------------------------------------

audit_app = typer.Typer(
    help="The audit log: check its hash chain, export it, prune old rows.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(db: DbOpt = None, models: ModelsOpt = None) -> None:
    """Recompute the hash chain: exit 0 when whole, 1 naming the first broken row."""
    check = Repository(_settings(db, models).db).verify_audit()
    if not check.ok:
        sys.stderr.write(f"audit chain broken at row {check.broken_id}: {check.reason} "
                         f"({check.checked} rows before it verified)\n")  # fmt: skip
        raise typer.Exit(1)
    typer.echo(f"audit chain ok: {check.checked} rows verified")


@audit_app.command("export")
def audit_export(
    csv: Annotated[bool, typer.Option("--csv", help="CSV (the default is JSON lines).")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", help="File to write (default: standard output).")
    ] = None,
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Every audit row, oldest first, with its chain hash."""
    repo = Repository(_settings(db, models).db)
    rows = list(repo.iter_audit())
    if csv:
        body = audit_csv(rows)
    else:
        body = "".join(json.dumps({**r, "ts": r["ts"].isoformat()}, ensure_ascii=False) + "\n"
                       for r in rows).encode("utf-8")  # fmt: skip
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        output.write_bytes(body)
        output.chmod(0o600)
        output_note = f"{len(rows)} audit rows written to {output}"
        typer.echo(output_note, err=True)
    audit(repo, None, actor=cli_actor(), action="audit.export",
          detail={"rows": len(rows), "format": "csv" if csv else "jsonl"})  # fmt: skip


@audit_app.command("prune")
def audit_prune(
    older_than_days: Annotated[
        int | None,
        typer.Option("--older-than-days", min=1,
                     help="Delete rows older than this many days (default: "
                          "TENANTMATCH_AUDIT_RETENTION_DAYS)."),
    ] = None,
    db: DbOpt = None,
    models: ModelsOpt = None,
) -> None:  # fmt: skip
    """Delete old audit rows; the chain stays verifiable from the newest pruned row's hash."""
    settings = _settings(db, models)
    days = older_than_days or settings.audit_retention_days
    if days is None:
        raise InputError("give --older-than-days or set TENANTMATCH_AUDIT_RETENTION_DAYS")
    cutoff = datetime.now(UTC) - timedelta(days=days)
    deleted = Repository(settings.db).prune_audit(
        cutoff, entry={"action": "audit.prune", "key_id": cli_actor()}
    )
    typer.echo(f"{deleted} audit rows older than {days} days pruned")


def main() -> None:
    """Console-script entry: run the app and map domain errors to exit codes."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        app()
    except KNOWN_ERRORS as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exit_code(exc))
    except SystemExit as exc:  # click's own (2 for usage) pass; a library's other code is a 1
        if isinstance(exc.code, int) and exc.code not in CONTRACT_CODES:
            sys.exit(1)
        raise
    except Exception as exc:  # a bug: its traceback in the log, and the contract's code
        log.exception("unexpected error")
        sys.stderr.write(f"error: unexpected {type(exc).__name__}: {exc}\n")
        sys.exit(1)


def exit_code(error: Exception) -> int:
    """The exit code of an error a command raised: 2 when it blames the input, else 1."""
    return 2 if isinstance(error, BAD_INPUT_ERRORS) else 1
