"""The Dask cluster the distributed tests run on: two worker processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from distributed import Client, LocalCluster


@contextmanager
def local_client() -> Iterator[Client]:
    """A client of a fresh two-process LocalCluster on 127.0.0.1, closed on exit."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c
