"""Errors of the store layer."""

from __future__ import annotations

from tenantmatch.registry import TenantmatchError


class StorageError(TenantmatchError):
    """The database refused or failed an operation, or holds a schema this version cannot use."""
