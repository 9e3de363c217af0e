"""How every experiment writes its outputs: figures (PNG + PDF) and tables (CSV + GitHub Markdown).

One statement of each rule, imported by the experiments:

* :func:`save_figure` writes ``name.png`` and ``name.pdf`` into a folder and closes the figure;
* :func:`markdown_table` renders a DataFrame as a GitHub Markdown table (pandas' ``to_markdown`` needs
  the optional ``tabulate``, which is not a dependency);
* :func:`write_table` writes a table as ``name.csv`` and ``name.md`` (an optional caption above the
  Markdown table, an optional note below it) and returns the Markdown text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["DPI", "save_figure", "markdown_table", "write_table"]

#: PNG resolution: sharp on screen at ~100–250 kB for the project's figures (measured on figures/)
DPI = 130


def save_figure(fig, folder, name: str) -> list[Path]:
    """Write ``name``.png and ``name``.pdf into ``folder`` (created if needed) and close ``fig``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    folder : str or Path
    name : str
        File name without extension.

    Returns
    -------
    list of Path
        The PNG and the PDF path.

    Examples
    --------
    >>> import tempfile, matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> [p.suffix for p in save_figure(fig, tempfile.mkdtemp(), "line")]
    ['.png', '.pdf']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=DPI, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def markdown_table(df: pd.DataFrame, floatfmt: str = ".4g", *,
                   formats: Mapping[str, str | Callable] | None = None, na: str = "",
                   align: str | Sequence[str] = "left") -> str:
    """A GitHub Markdown table of ``df`` (its index is left out).

    Parameters
    ----------
    df : DataFrame
    floatfmt : str
        Format spec of float cells (``format(v, floatfmt)``); integers, strings and booleans print as
        ``str``.
    formats : mapping, optional
        Per-column format spec or callable (value -> str), overriding ``floatfmt`` for that column;
        a callable also receives non-float values.
    na : str
        Text of NaN and ±Inf float cells.
    align : {"left", "right", "auto"} or sequence of "left"/"right"
        Column alignment: all left (``---``), all right (``---:``), "auto" (numeric columns right,
        the others left), or one entry per column.

    Examples
    --------
    >>> import pandas as pd
    >>> print(markdown_table(pd.DataFrame({"solver": ["a"], "time": [0.12345]}), align="auto"), end="")
    | solver | time |
    |---|---:|
    | a | 0.1235 |
    """
    formats = dict(formats or {})
    cols = list(df.columns)
    unknown = set(formats) - set(cols)
    if unknown:
        raise ValueError(f"formats names columns that df does not have: {sorted(unknown)}")
    if isinstance(align, str):
        if align not in ("left", "right", "auto"):
            raise ValueError(f"align must be 'left', 'right', 'auto' or one entry per column, got {align!r}")
        if align == "auto":
            align = ["right" if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
                     else "left" for c in cols]
        else:
            align = [align] * len(cols)
    align = list(align)
    if len(align) != len(cols) or set(align) - {"left", "right"}:
        raise ValueError(f"align needs one of 'left'/'right' per column ({len(cols)}), got {align!r}")

    def cell(col, v):
        f = formats.get(col)
        if callable(f):
            return f(v)
        if isinstance(v, (float, np.floating)):
            return na if not np.isfinite(v) else format(v, f or floatfmt)
        if f is not None and _is_number(v):
            return format(v, f)
        return str(v)

    lines = ["| " + " | ".join(map(str, cols)) + " |",
             "|" + "|".join("---:" if a == "right" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(cell(c, v) for c, v in zip(cols, row)) + " |"
              for row in df.itertuples(index=False, name=None)]
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, folder, name: str, *, caption: str = "", note: str = "",
                csv_float_format: str | None = None, display: pd.DataFrame | None = None, **markdown) -> str:
    """Write ``df`` as ``name``.csv and ``name``.md into ``folder``; return the Markdown text.

    Parameters
    ----------
    caption, note : str
        Text above and below the Markdown table (a blank line separates them from it).
    csv_float_format : str, optional
        ``float_format`` of :meth:`pandas.DataFrame.to_csv` (e.g. ``"%.4g"``; default: full precision).
    display : DataFrame, optional
        The frame shown in Markdown when it is not ``df`` itself (e.g. a wide, formatted layout of a long
        table); default ``df``.
    **markdown
        Passed to :func:`markdown_table` (``floatfmt``, ``formats``, ``na``, ``align``).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> print(write_table(pd.DataFrame({"a": [1.5]}), tempfile.mkdtemp(), "t", caption="A table"), end="")
    A table
    <BLANKLINE>
    | a |
    |---|
    | 1.5 |
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / f"{name}.csv", index=False, float_format=csv_float_format)
    shown = df if display is None else display
    text = markdown_table(shown, **markdown)
    text = (caption + "\n\n" if caption else "") + text + ("\n" + note + "\n" if note else "")
    (folder / f"{name}.md").write_text(text)
    return text
