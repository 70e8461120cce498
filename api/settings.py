"""The one settings object of the service and the CLI (env prefix ``TENANTMATCH_``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenantmatch.features import available_cores
from tenantmatch.matching import MAX_K
from tenantmatch.store import default_db_url, default_models_dir, runtime_dir


def _jobs_dir() -> Path:
    return runtime_dir() / "jobs"


def _shared_cache_dir() -> Path:
    return runtime_dir() / "shortlists"


class Settings(BaseSettings):
    """Where the data and the models live, how the service listens, and its limits.

    ``db`` is an SQLAlchemy URL (SQLite file by default, PostgreSQL by URL); ``models`` the model
    store; ``jobs_dir`` holds the logs and exit codes of retraining jobs.
    """

    model_config = SettingsConfigDict(env_prefix="TENANTMATCH_", extra="ignore")

    # defaults below TENANTMATCH_HOME or the per-user data directory (tenantmatch.store.home)
    db: str = Field(default_factory=default_db_url)
    models: Path = Field(default_factory=default_models_dir)
    jobs_dir: Path = Field(default_factory=_jobs_dir)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_k: int = Field(default=200, ge=1, le=MAX_K)
    max_page_size: int = Field(default=500, ge=1, le=5000)
    max_body_kb: int = Field(default=256, ge=1, le=65536)
    max_upload_mb: int = Field(default=50, ge=1, le=2048)
    stale_days: int = Field(default=90, ge=1)
    workers: int = Field(default=1, ge=1, le=16)
    # a worker that does not answer uvicorn's manager for this long (s) is replaced; a SIGHUP
    # waits as long for each new worker to load. A worker busy scoring answers late (uvicorn's
    # 5 s restarted busy workers under load); a worker that dies while the manager waits for
    # its answer is replaced only after this long; one loading 1M enterprises takes ~150 s,
    # so a SIGHUP at that size needs more (docs/api.md).
    worker_timeout_s: int = Field(default=60, ge=5, le=3600)
    # a worker whose event loop has not run for this long (s) exits, and the manager starts
    # another (api.liveness): a worker stuck on its loop still answers the manager's ping
    liveness_timeout_s: int = Field(default=30, ge=2, le=3600)
    # overload (api.overload): expensive requests (shortlists, chain leads, outlooks) and heavy
    # ones (fill plans, imports, retraining) one worker runs at once; heavy ones on a thread
    # pool of their own, so they never take the threads of cheap reads
    expensive_concurrency: int = Field(default=4, ge=1, le=64)
    heavy_concurrency: int = Field(default=1, ge=1, le=16)
    # requests of each kind that may wait for a slot, and how long (s); the rest: 503
    overload_queue: int = Field(default=16, ge=0, le=10_000)
    overload_wait_s: float = Field(default=2.0, ge=0, le=60)
    retry_after_s: int = Field(default=2, ge=1, le=3600)  # the Retry-After of a 503
    # requests per second per API key and worker, sustained and at once (0: no limit)
    rate_limit_per_s: float = Field(default=50.0, ge=0, le=100_000)
    rate_limit_burst: int = Field(default=200, ge=1, le=1_000_000)
    # uvicorn: largest request head (KB), idle keep-alive (s), connections per worker
    # (over it: 503)
    max_header_kb: int = Field(default=64, ge=1, le=1024)
    keep_alive_s: int = Field(default=5, ge=1, le=300)
    max_connections: int = Field(default=500, ge=8, le=100_000)
    # a request's head and body must arrive within this long (s) of the server waiting for
    # it, or the connection is closed (idle connections, slowloris drips)
    read_timeout_s: float = Field(default=30.0, ge=1, le=3600)
    # finished shortlists each worker keeps until the data, the model or the date changes
    shortlist_cache: int = Field(default=2_000, ge=0, le=1_000_000)  # ~20 KB JSON each at k=50
    # where the workers of one multi-worker server share scored answers (one file per server
    # run, removed a day after its last use); None: each worker scores for itself
    shared_cache_dir: Path | None = Field(default_factory=_shared_cache_dir)
    # an accepted API key is not looked up again for this long (s): a key revoked through
    # another process keeps working at most this long; 0 looks every request up
    key_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    # audit rows older than this many days are pruned when a worker starts (the chain stays
    # verifiable from its anchor; `tenantmatch audit prune` does it by hand); None keeps all
    audit_retention_days: int | None = Field(default=None, ge=1, le=36_500)
    compile_trees: bool = True  # compile the model with lleaves when it is installed
    # load the data and the model (and compile it) before a worker takes requests, so that no
    # request waits for it and a worker still loading takes no connection of a busy server
    preload: bool = True
    # after each data or model change, compute stage 1 of every building in the background at
    # the lowest CPU priority, so building queries skip it (matching.precomputed)
    precompute_candidates: bool = True
    # after a write or a model change, "background" answers from the state it has while one
    # thread builds the next, patched from the rows the write touched: a write never stalls a
    # read. Answers say the data version they stand on (X-Data-Version); a request sending
    # X-Min-Data-Version (a write's answer carries its version) waits for it up to
    # min_version_wait_s, then gets 503. "sync" builds the new state before answering.
    state_refresh: Literal["background", "sync"] = "background"
    min_version_wait_s: float = Field(default=10.0, ge=0, le=120)
    # threads one shortlist query is split over; None: this process's share of the cores
    # (see threads_per_query)
    query_threads: int | None = Field(default=None, ge=1, le=64)
    json_logs: bool = True
    log_level: str = "INFO"

    @field_validator("db")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError(
                f"database URL {value!r} is not supported: use sqlite:///PATH or postgresql://..."
            )
        return value

    @field_validator("shared_cache_dir", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        # TENANTMATCH_SHARED_CACHE_DIR= (empty) turns sharing off rather than meaning ".".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("host")
    @classmethod
    def _no_wildcard_by_accident(cls, value: str) -> str:
        # Binding every interface must be a deliberate choice, not a typo.
        if value in {"", "*"}:
            raise ValueError("host must be an address such as 127.0.0.1 or 0.0.0.0")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        allowed = ("DEBUG", "INFO", "WARNING", "ERROR")
        if value.upper() not in allowed:
            raise ValueError(f"log_level {value!r} is unknown; allowed: {', '.join(allowed)}")
        return value.upper()

    @property
    def threads_per_query(self) -> int:
        """``query_threads`` if set, else the cores divided among the ``workers`` (at least 1):
        2 workers on 2 cores score on one thread each, so busy workers do not contend; a CLI
        call (1 worker) uses every core."""
        if self.query_threads is not None:
            return self.query_threads
        return max(1, available_cores() // self.workers)

    @property
    def max_body_bytes(self) -> int:
        """Largest JSON request body accepted (bytes)."""
        return self.max_body_kb * 1024

    @property
    def max_upload_bytes(self) -> int:
        """Largest upload accepted by the import route (bytes)."""
        return self.max_upload_mb * 1024 * 1024

    def export_to_environ(self) -> None:
        """Put the storage settings, and the worker count the threads per query follow from,
        where child processes (uvicorn workers, jobs) read them."""
        os.environ["TENANTMATCH_DB"] = self.db
        os.environ["TENANTMATCH_WORKERS"] = str(self.workers)
        os.environ["TENANTMATCH_MODELS"] = str(self.models)
        os.environ["TENANTMATCH_JOBS_DIR"] = str(self.jobs_dir)

    def child_environ(self) -> dict[str, str]:
        """The environment of a child job: this process's, with the storage settings pinned."""
        return {
            **os.environ,
            "TENANTMATCH_DB": self.db,
            "TENANTMATCH_MODELS": str(self.models),
            "TENANTMATCH_JOBS_DIR": str(self.jobs_dir),
        }
