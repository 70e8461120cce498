"""tenantmatch: tenant-attraction matchmaking for office buildings (楼宇招商匹配).

One import name for the whole project; its layers, lowest first (docs/architecture.md):
``registry`` (the data contract, enums, tables and as-of snapshots) <- ``store`` (storage, import,
live updates, keys and audit) and ``features`` <- ``models`` (every fitted thing and the model
store) <- ``matching`` (recommendation) <- ``api`` and ``training`` <- ``cli``.
"""

from importlib import metadata

try:
    __version__ = metadata.version("tenantmatch")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
