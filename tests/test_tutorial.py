"""Run every ```python block of docs/tutorial.md, in order, in one namespace (the tutorial stays true).

Run this file as a script from the repository root to regenerate the tutorial's figures in figures/:
``python tests/test_tutorial.py``.
"""

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
    namespace: dict = {"__name__": "__tutorial__"}
    old = Path.cwd()
    os.chdir(workdir)
    try:
        for i, code in enumerate(blocks(), 1):
            try:
                exec(compile(code, f"{TUTORIAL.name}[block {i}]", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"tutorial block {i} failed: {exc!r}\n{code}") from exc
    finally:
        os.chdir(old)
    return namespace


def test_tutorial_blocks_run(tmp_path):
    pytest.importorskip("matplotlib")
    assert len(blocks()) >= 5
    ns = run_tutorial(tmp_path)
    figures = sorted(p.name for p in (tmp_path / "figures").glob("tutorial_*.png"))
    assert figures, "the tutorial produces its own figures"
    # every image the tutorial shows is one its code writes
    shown = set(re.findall(r"\(\.\./figures/(tutorial_[\w.-]+\.png)\)", TUTORIAL.read_text()))
    assert shown <= set(figures), shown - set(figures)
    assert ns["sol"].optimal


if __name__ == "__main__":
    run_tutorial(TUTORIAL.parents[1])
    sys.exit(0)
