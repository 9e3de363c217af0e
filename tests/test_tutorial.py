"""Run every ```python block of docs/tutorial.md, in order, in one namespace (the tutorial stays true).

Run this file as a script from the repository root to regenerate the tutorial's figures in figures/:
``python tests/test_tutorial.py``.
"""

import itertools
import os
import re
import sys
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks():
    return BLOCK.findall(TUTORIAL.read_text())


def run_tutorial(workdir: Path) -> dict:
    from threadpoolctl import threadpool_limits

    namespace: dict = {"__name__": "__tutorial__"}
    old = Path.cwd()
    os.chdir(workdir)
    try:
        for i, code in enumerate(blocks(), 1):
            # One BLAS thread: on 2 busy cores a second one made the solvers several times slower. The limit
            # is set again for every block because threadpoolctl only reaches the libraries already loaded,
            # and the blocks load more (scipy's and scikit-learn's own BLAS and OpenMP runtimes).
            with threadpool_limits(limits=1):
                try:
                    exec(compile(code, f"{TUTORIAL.name}[block {i}]", "exec"), namespace)
                except Exception as exc:
                    raise AssertionError(f"tutorial block {i} failed: {exc!r}\n{code}") from exc
    finally:
        os.chdir(old)
    return namespace


def _code(line: str) -> str:
    """A line without indentation and trailing comment (comments may differ, code may not)."""
    return re.sub(r"(^|\s+)#.*$", "", line).strip()


QUOTE = re.compile(r"^```python ([\w/]+\.py)\n(.*?)^```", re.S | re.M)


def test_quoted_code_is_the_real_code():
    """Blocks fenced as ```python fast/admm.py quote the project: every code line must stand, in order,
    in the source of that module as imported (comments are the tutorial's own)."""
    import importlib
    import inspect

    quotes = QUOTE.findall(TUTORIAL.read_text())
    assert len(quotes) >= 3
    for path, code in quotes:
        module = importlib.import_module("nettrim." + path.removesuffix(".py").replace("/", "."))
        source = [_code(line) for line in inspect.getsource(module).splitlines()]
        pos = 0
        for line in code.splitlines():
            line = _code(line)
            if not line:
                continue
            assert line in source[pos:], f"{path}: the tutorial quotes a line the code no longer has: {line!r}"
            pos = source.index(line, pos) + 1


def test_tutorial_blocks_run(tmp_path):
    pytest.importorskip("matplotlib")
    assert len(blocks()) >= 5
    ns = run_tutorial(tmp_path)
    figures = sorted(p.name for p in (tmp_path / "figures").glob("tutorial_*.png"))
    assert figures, "the tutorial produces its own figures"
    # every image the tutorial shows is one its code writes
    shown = set(re.findall(r"\(\.\./figures/(tutorial_[\w.-]+\.png)\)", TUTORIAL.read_text()))
    assert shown <= set(figures), shown - set(figures)
    # written by the project's one figure writer (experiments/_output.save_figure): a PDF beside each PNG
    assert all((tmp_path / "figures" / name).with_suffix(".pdf").exists() for name in figures)
    # "Which ε for my budget?": the density search hit its target, on the curve of the sweep
    budget, sweep = ns["budget"], ns["sweep"]
    assert budget.search.target == 0.2 and abs(budget.kept - 0.2) <= budget.search.tol
    kept = [k for _, k in sorted((eps, k) for eps, k, _, _ in sweep)]
    assert all(a > b for a, b in itertools.pairwise(kept)), "the kept fraction falls as ε grows"
    assert ns["sol"].optimal


if __name__ == "__main__":
    run_tutorial(TUTORIAL.parents[1])
    sys.exit(0)
