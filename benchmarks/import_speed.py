"""Import speed and memory (issue 23 item 3): a demo folder imported into a fresh SQLite file and
a fresh PostgreSQL database, once per variant in the same run:

- ``streamed``: what ``tenantmatch import`` does, tables read, validated and written
  ``store.importer.CHUNK_ROWS`` records at a time, new rows by the bulk path (COPY on
  PostgreSQL, plain executemany on SQLite);
- ``whole``: the same with every table read, validated and written at once (the import before
  streaming): the baseline of the memory figure;
- ``upsert_statement``: whole tables, every row through the upsert statement (the import before
  the bulk path).

Each import runs in a process of its own, so its peak RSS is its own. Reported per backend and
variant: seconds in all, seconds writing, rows per second, peak RSS, and the ratios to
``whole``.

``python -m benchmarks.import_speed [--enterprises 20000 | --folder DIR] [--pg postgresql+psycopg://
user@host:port/postgres] [--variants streamed whole upsert_statement]`` writes
``benchmarks/results/import_<date>_n<N>.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

RESULTS = Path(__file__).parent / "results"
DATABASE = "tenantmatch_import_bench"


def _fresh_url(backend: str, root: Path, pg_admin: str | None) -> str:
    if backend == "sqlite":
        path = root / f"import-{time.monotonic_ns()}.db"
        return f"sqlite:///{path}"
    assert pg_admin is not None
    engine = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE}"))
        conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    engine.dispose()
    return pg_admin.rsplit("/", 1)[0] + f"/{DATABASE}"


VARIANTS = ("streamed", "whole", "upsert_statement")
WHOLE = 10**9  # chunk rows larger than any table: each read and validated at once


def _one(folder: str, url: str, variant: str, queue: Any) -> None:
    """Child process: import ``folder`` into ``url``; puts its figures on ``queue``."""
    from tenantmatch.store import Repository, import_dataset
    from tenantmatch.store import upsert as upsert_module

    bulk = variant != "upsert_statement"
    chunk_rows = None if variant == "streamed" else WHOLE

    writing = [0.0]

    def timed(fn: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                writing[0] += time.perf_counter() - started

        return run

    write, insert = upsert_module._write, upsert_module._insert_new
    upsert_module._write = timed(write)  # type: ignore[method-assign]
    # the baseline: new rows through the upsert statement too
    upsert_module._insert_new = timed(insert if bulk else write)  # type: ignore[method-assign]
    repo = Repository(url)
    started = time.perf_counter()
    import_dataset(Path(folder), repo, chunk_rows=chunk_rows)
    seconds = time.perf_counter() - started
    rows = sum(repo.counts().values())
    repo.close()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"rows": rows, "seconds": round(seconds, 2), "writing_s": round(writing[0], 2),
               "rows_per_s": round(rows / seconds), "writing_rows_per_s": round(rows / writing[0]),
               "peak_rss_mib": round(peak_mib)})  # fmt: skip


def measure(folder: Path, backend: str, *, variant: str, root: Path, pg: str | None) -> dict:
    url = _fresh_url(backend, root, pg)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_one, args=(str(folder), url, variant, queue))
    child.start()
    result = queue.get(timeout=3600)
    child.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=20_000)
    parser.add_argument("--folder", type=Path, help="a data-contract folder instead of a demo")
    parser.add_argument("--pg", help="admin URL of a PostgreSQL server (…/postgres)",
                        default=os.environ.get("TENANTMATCH_BENCH_PG"))  # fmt: skip
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=["streamed", "whole"])
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tm-import-") as tmp:
        root = Path(tmp)
        folder = args.folder
        if folder is None:
            from tenantmatch.training.demo import WorldParams, generate_world

            folder = root / "world"
            generate_world(folder, WorldParams(enterprises=args.enterprises, seed=0))
        backends = ["sqlite"] + (["postgresql"] if args.pg else [])
        out: dict[str, Any] = {"benchmark": "import_speed", "date": date.today().isoformat(),
                               "enterprises": args.enterprises,
                               "load": os.getloadavg()}  # fmt: skip
        for backend in backends:
            runs = {v: measure(folder, backend, variant=v, root=root, pg=args.pg)
                    for v in args.variants}  # fmt: skip
            if "whole" in runs:
                base = runs["whole"]
                for run in runs.values():
                    run["seconds_vs_whole"] = round(run["seconds"] / base["seconds"], 2)
                    run["peak_rss_vs_whole"] = round(run["peak_rss_mib"] / base["peak_rss_mib"], 2)
            out[backend] = runs
    print(json.dumps(out, indent=2))
    tag = f"_{args.tag}" if args.tag else ""
    target = RESULTS / f"import_{out['date']}_n{args.enterprises}{tag}.json"
    target.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
