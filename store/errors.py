"""Errors of the store layer."""

from __future__ import annotations

from tenantmatch.registry import TenantmatchError


class StorageError(TenantmatchError):
    """The database refused or failed an operation, or holds a schema this version cannot use."""


class SchemaOutdatedError(StorageError):
    """The database's schema is older than this code's: ``tenantmatch db upgrade`` brings it up
    (CLI exit code 2, like bad input: the fix is the caller's)."""
