"""BLAS thread pools pinned for a block of work (threadpoolctl), scipy's own OpenBLAS included.

:func:`threadpoolctl.threadpool_limits` reaches only the libraries already loaded when the limit is set.
numpy and scipy ship separate OpenBLAS builds; scipy's is loaded with :mod:`scipy.linalg`, which nettrim
imports lazily (inside the solvers). A limit set in a fresh worker process before that import therefore left
scipy's BLAS at its default thread count (one per core), competing with the other workers for the cores.
:func:`limit_blas` loads both before it sets the limit (``tests/test_threads.py`` checks it in a fresh
process).
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def limit_blas(threads: int | None):
    """Run the block with at most ``threads`` BLAS threads in numpy's and scipy's BLAS (None: unchanged)."""
    if threads is None:
        yield
        return
    import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS, so that the limit reaches it)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield
