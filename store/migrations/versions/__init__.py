"""Schema revisions, oldest first: ``0001`` is schema version 1 as tenantmatch created it before
migrations existed; each later revision also records its version in ``meta.schema_version``."""
