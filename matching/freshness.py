"""How current a registry is on the date a shortlist stands on: the newest tenancy (start or
end) or attraction event known that day. A registry whose newest record is more than
``STALE_AFTER_DAYS`` older than the shortlist's date ranks badly (leases, moves and courtships
of the months since are missing), so the CLI warns, ``/readyz`` reports it and the page shows
a banner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from tenantmatch.registry import Snapshot

STALE_AFTER_DAYS = 90


@dataclass(frozen=True)
class Freshness:
    """``newest``: the newest tenancy start, tenancy end or event date on or before ``as_of``
    (None when the registry has none); ``stale`` when it is more than ``STALE_AFTER_DAYS``
    days before ``as_of`` (a registry without any such record is not called stale)."""

    as_of: date
    newest: date | None
    stale_after_days: int = STALE_AFTER_DAYS

    @property
    def days_behind(self) -> int | None:
        """Days from ``newest`` to ``as_of``; None without records."""
        return None if self.newest is None else (self.as_of - self.newest).days

    @property
    def stale(self) -> bool:
        days = self.days_behind
        return days is not None and days > self.stale_after_days

    def warning(self) -> str | None:
        """The English warning of a stale registry (CLI, logs); None when it is current."""
        if not self.stale:
            return None
        return (
            f"the registry's newest tenancy or event is from {self.newest}, {self.days_behind} "
            f"days before {self.as_of} (more than {self.stale_after_days}): shortlists rank "
            "badly on stale data; import the latest data or pass --as-of"
        )

    def warning_zh(self) -> str | None:
        """The same warning in Chinese (the staff page); None when the registry is current."""
        if not self.stale:
            return None
        return (
            f"台账数据已过期：最新的入驻或招商记录为 {self.newest}，比推荐日期 {self.as_of} "
            f"早 {self.days_behind} 天（超过 {self.stale_after_days} 天），推荐结果可能不准确，"
            "请导入最新数据。"
        )


def registry_freshness(
    snapshot: Snapshot, *, stale_after_days: int = STALE_AFTER_DAYS
) -> Freshness:
    """The freshness of ``snapshot`` (which holds only what was known on its ``as_of``)."""
    dates = [
        snapshot.tenancies["start_date"].max(),
        snapshot.tenancies["end_date"].max(),
        snapshot.events["date"].max() if len(snapshot.events) else pd.NaT,
    ]
    known = [pd.Timestamp(d) for d in dates if not pd.isna(d)]
    newest = max(known).date() if known else None
    return Freshness(snapshot.as_of.date(), newest, stale_after_days)
