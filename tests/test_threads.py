"""limit_blas pins every BLAS pool, scipy's included, even when scipy is first loaded inside the block."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("threadpoolctl")

# A fresh interpreter: in the test process scipy is loaded already, which hides the case that matters (a
# worker process whose first solver call loads scipy.linalg after the limit was set). threadpoolctl's
# threadpool_limits alone leaves scipy's OpenBLAS at its default (the number of cores) there.
_SCRIPT = """
import json, sys
from threadpoolctl import threadpool_info
assert "scipy.linalg" not in sys.modules
from nettrim._threads import limit_blas
with limit_blas({limit}):
    import nettrim.fast  # noqa: F401
    inside = [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]
outside = [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]
print(json.dumps([inside, outside]))
"""


def _run(limit):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", _SCRIPT.format(limit=limit)], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_limit_blas_reaches_scipy_blas_loaded_inside_the_block():
    inside, _ = _run(1)
    assert len(inside) >= 1, "no BLAS library found"
    assert all(c == 1 for c in inside), inside


def test_limit_blas_none_leaves_the_pools_at_their_defaults():
    inside, outside = _run(None)
    assert inside == outside
