"""Shared fixtures: a small in-process Dask cluster for the ``--dask`` paths."""

import pytest


@pytest.fixture(scope="session")
def dask_address():
    """Scheduler address of a LocalCluster with one in-process worker (threads, no extra processes)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
