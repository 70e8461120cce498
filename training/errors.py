"""Errors of the training layer; messages name the bad value and what is allowed."""

from __future__ import annotations

from tenantmatch.registry import InputError, TenantmatchError


class TrainingError(TenantmatchError):
    """Training, evaluation or publishing could not proceed."""


class NotEnoughDataError(InputError):
    """The tables do not hold enough dated history to build the temporal splits."""
