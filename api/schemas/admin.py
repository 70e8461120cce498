"""Admin shapes: API keys, imports, retraining jobs, model versions; health and labels."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tenantmatch.api.schemas.common import EntityId, StrictIn


class KeyCreateIn(StrictIn):
    role: Literal["viewer", "operator", "admin"]
    operator_id: EntityId | None = Field(
        None, description="Required for operators: the operating company whose buildings it edits."
    )
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="Refuse the key after this many days; omitted: never."
    )


class KeyOut(BaseModel):
    key_id: str
    role: str
    operator_id: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = Field(
        default=None, description="When the key was last used (recorded at most once a minute)."
    )


class KeyCreatedOut(KeyOut):
    key: str = Field(description="The key itself; shown only in this answer, store it safely.")


class KeyListOut(BaseModel):
    items: list[KeyOut]


class ImportTableOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    file: str
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    duplicates_merged: int = Field(
        0, description="Rows identical in every column to another row: imported once."
    )


class RowErrorOut(BaseModel):
    file: str
    row: int = Field(description="File row, the header being row 1.")
    column: str = Field(description="Contract column name; empty for a whole-row problem.")
    column_zh: str = Field("", description="The column's Chinese header (楼宇编号...).")
    value: str
    reason: str = Field(description="Why, in English.")
    reason_zh: str = Field("", description="Why, in Chinese.")


class ImportOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    tables: dict[str, ImportTableOut]
    errors: list[RowErrorOut] = []


class JobOut(BaseModel):
    job_id: str
    status: Literal["running", "succeeded", "failed", "lost"]
    started_at: datetime
    finished_at: datetime | None = None
    exit_code: int | None = None
    log_tail: str = Field("", description="The last lines the job printed.")


class ModelVersionOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str
    status: str = Field(description="current, candidate or rejected.")
    current: bool
    created: str | None = None
    kind: str | None = None
    metrics: dict[str, Any] | None = None
    reason: str | None = None


class ModelListOut(BaseModel):
    current: str | None
    items: list[ModelVersionOut]


class HealthOut(BaseModel):
    status: str


class FreshnessOut(BaseModel):
    as_of: date = Field(description="The day shortlists are ranked as of (today).")
    newest_record: date | None = Field(
        description="The newest tenancy start or end, or attraction event, on or before as_of."
    )
    days_behind: int | None = Field(description="Days from newest_record to as_of.")
    stale: bool = Field(description="True when days_behind exceeds stale_after_days.")
    stale_after_days: int
    warning_zh: str | None = Field(None, description="The page's banner text when stale.")


class ReadyOut(BaseModel):
    status: str
    model_version: str
    counts: dict[str, int]
    registry: FreshnessOut = Field(
        description="How current the registry is: a stale one (no tenancy or event in the last "
        "stale_after_days days) still answers 200, but ranks badly."
    )


class LabelsOut(BaseModel):
    labels: dict[str, str] = Field(description="Contract code -> Chinese label (中文名).")
    industries: dict[str, str] = Field(description="GB/T 4754 division code -> Chinese name.")


class RevokedOut(BaseModel):
    key_id: str
    changed: bool = Field(description="False when the key had already been revoked.")


class AuditEntryOut(BaseModel):
    id: int
    ts: datetime
    actor: str | None = Field(
        description="The API key id, cli:<os user> for a command, 'service' for the server "
        "itself; null for a caller without a valid key (see detail.client)."
    )
    action: str
    target: str | None = None
    detail: str | None = Field(default=None, description="JSON text, as stored.")
    hash: str | None = Field(default=None, description="The row's link in the hash chain.")


class AuditListOut(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[AuditEntryOut]
