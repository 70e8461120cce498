"""Request and response schemas: the JSON shapes of interface.md, with bounds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReasonOut(BaseModel):
    feature: str
    text: str
    weight: float


class ShortlistItemOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    rank: int = Field(ge=1)
    enterprise_id: str | None = None
    building_id: str | None = None
    name: str | None = None
    score: float
    reasons: list[ReasonOut] = []
    risk_warnings: list[str] | None = None


class ShortlistOut(BaseModel):
    query: dict[str, str]
    model_version: str
    items: list[ShortlistItemOut]


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    model_version: str
    counts: dict[str, int]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail
