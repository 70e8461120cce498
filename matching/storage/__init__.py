"""Storage of canonical tables, metadata, API keys and the audit log (SQLite or PostgreSQL).

SQLAlchemy is imported only below this package.
"""

from matching.storage.engine import make_engine
from matching.storage.repository import Repository
from matching.storage.schema import SCHEMA_VERSION
from matching.storage.transaction import WriteTransaction
from matching.storage.upsert import UpsertCount

__all__ = ["SCHEMA_VERSION", "Repository", "UpsertCount", "WriteTransaction", "make_engine"]
