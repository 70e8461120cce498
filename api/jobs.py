"""Retraining jobs: ``python -m tenantmatch train`` in a separate process, out of the request path.

Each job has a folder ``<jobs_dir>/<job_id>/`` holding ``job.json`` (pid, start, command),
``output.log`` (the job's stdout and stderr) and, once it ended, ``exit.json`` (exit code, end).
State lives in files, so any worker of the service can answer for any job.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from tenantmatch.api.errors import ApiError
from tenantmatch.registry import NotFoundError

log = logging.getLogger(__name__)

JOB_ID_SHAPE = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
TRAIN_COMMAND: tuple[str, ...] = (sys.executable, "-m", "tenantmatch", "train")
LOG_TAIL_LINES = 40
JobStatus = Literal["running", "succeeded", "failed", "lost"]


@dataclass(frozen=True)
class JobState:
    """One retraining job as the API reports it; ``log_tail`` is the end of its output."""

    job_id: str
    status: JobStatus
    started_at: datetime
    finished_at: datetime | None
    exit_code: int | None
    log_tail: str


class RetrainJobs:
    """Start and observe retraining processes; at most one runs at a time per jobs folder."""

    def __init__(
        self, folder: Path, *, env: Mapping[str, str], command: Sequence[str] = TRAIN_COMMAND
    ) -> None:
        self.folder = Path(folder)
        self.env = dict(env)
        self.command = tuple(command)
        self._lock = threading.Lock()
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> JobState:
        """Launch a job and return its state; 409 while another job is still running."""
        with self._lock:
            running = [j for j in self._job_ids() if self._status(j)[0] == "running"]
            if running:
                raise ApiError(409, f"retraining job {running[0]} is still running; wait for it")
            job_id = _new_job_id()
            folder = self.folder / job_id
            folder.mkdir(parents=True)
            proc = self._spawn(folder)
            self._children[job_id] = proc
            _write_json(
                folder / "job.json",
                {
                    "job_id": job_id,
                    "pid": proc.pid,
                    "started_at": _now(),
                    "command": self.command[1:],
                },
            )
        threading.Thread(target=self._wait, args=(job_id, proc), daemon=True).start()
        log.info("started retraining job %s (pid %d)", job_id, proc.pid)
        return self.get(job_id)

    def get(self, job_id: str) -> JobState:
        """The state of one job; NotFoundError for an id that is not a stored job."""
        folder = self.folder / job_id
        if not JOB_ID_SHAPE.fullmatch(job_id) or not (folder / "job.json").is_file():
            raise NotFoundError(f"retraining job {job_id!r} does not exist")
        meta = _read_json(folder / "job.json")
        status, ended = self._status(job_id)
        return JobState(
            job_id=job_id,
            status=status,
            started_at=datetime.fromisoformat(meta["started_at"]),
            finished_at=datetime.fromisoformat(ended["finished_at"]) if ended else None,
            exit_code=ended["exit_code"] if ended else None,
            log_tail=_tail(folder / "output.log", LOG_TAIL_LINES),
        )

    def _spawn(self, folder: Path) -> subprocess.Popen[bytes]:
        with (folder / "output.log").open("wb") as out:
            return subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, start_new_session=True,
            )  # fmt: skip

    def _wait(self, job_id: str, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        _write_json(self.folder / job_id / "exit.json", {"exit_code": code, "finished_at": _now()})
        self._children.pop(job_id, None)
        log.info("retraining job %s ended with exit code %d", job_id, code)

    def _status(self, job_id: str) -> tuple[JobStatus, dict[str, Any] | None]:
        folder = self.folder / job_id
        if (folder / "exit.json").is_file():
            ended = _read_json(folder / "exit.json")
            return ("succeeded" if ended["exit_code"] == 0 else "failed"), ended
        if job_id in self._children:
            return "running", None
        pid = _read_json(folder / "job.json").get("pid")
        # Started by another worker (or before a restart): alive means running; gone without an
        # exit record means the process that watched it died first.
        return ("running" if isinstance(pid, int) and _alive(pid) else "lost"), None

    def _job_ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if JOB_ID_SHAPE.fullmatch(p.name))


def _new_job_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_json(path: Path, obj: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, default=list), encoding="utf-8")
    tmp.replace(path)


def _read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _tail(path: Path, lines: int) -> str:
    if not path.is_file():
        return ""
    text = path.read_bytes()[-16_384:].decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])
