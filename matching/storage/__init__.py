"""Storage of canonical tables, metadata, API keys and the audit log (SQLite or PostgreSQL),
with schema migrations (Alembic, in ``migrations/``).

SQLAlchemy and Alembic are imported only below this package.
"""

from matching.storage.engine import make_engine
from matching.storage.repository import Repository
from matching.storage.revisions import Upgrade, head_revision, upgrade_database
from matching.storage.schema import SCHEMA_VERSION
from matching.storage.upsert import UpsertCount

__all__ = [
    "SCHEMA_VERSION",
    "Repository",
    "Upgrade",
    "UpsertCount",
    "head_revision",
    "make_engine",
    "upgrade_database",
]
