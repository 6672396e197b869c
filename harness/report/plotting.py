"""Matplotlib set-up for headless, reproducible figures at paper size, and the looks every figure shares.

One strategy has one colour, line style and marker in every figure of every report
(``strategy_style``); a panel shows at most ``MAX_CURVES`` strategies (``strategy_panels``); axes carry
plain tick labels ("0.1, 1, 10", never "9×10^0"; ``log_ticks``, ``plain_ticks``, ``plain_linear``).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import to_hex, to_rgb  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator, ScalarFormatter  # noqa: E402

sns.set_theme(context="paper", style="whitegrid", font_scale=0.9)
plt.rcParams.update({"figure.dpi": 150, "savefig.dpi": 200, "svg.hashsalt": "nas-harness"})

MAX_CURVES = 8
"""Most strategies one panel draws: beyond that, lines and bands can no longer be told apart."""

HIGHLIGHTED = ("graphpnas",)
"""The paper's method: drawn thick and black, and repeated in every panel as the common reference."""

_FAMILY = {  # (base colour, variant index): variants of one method share its hue, differ in shade and dash
    "graphpnas": ("#000000", 0), "graphpnas_code": ("#000000", 1),
    "random": ("#7f7f7f", 0),
    "rea": ("#ff7f0e", 0), "rea_nb201": ("#ff7f0e", 1),
    "bohb": ("#2ca02c", 0), "bohb_nb201": ("#2ca02c", 1),
    "reinforce": ("#d62728", 0),
    "rnn": ("#9467bd", 0), "rnn_graphpnas": ("#9467bd", 1),
    "bananas": ("#1f77b4", 0),
    "local_search": ("#8c564b", 0),
    "er": ("#e377c2", 0), "ws": ("#17becf", 0),
}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_OTHER_COLOURS = ("#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d")


def _shade(colour: str, variant: int) -> str:
    """Variant 1 of a family: the base colour mixed 40 % with white (black: a dark grey)."""
    if variant == 0:
        return colour
    rgb = np.asarray(to_rgb(colour))
    return to_hex(rgb + (1 - rgb) * 0.4)


def strategy_style(name: str) -> dict:
    """Matplotlib keyword arguments (color, linestyle, marker, linewidth, zorder) for ``name``, the same in
    every figure. Shipped strategies have fixed, pairwise different looks; any other name (a plugin) gets
    a look derived from a hash of its name (dotted or dash-dot, so it never looks like a shipped one)."""
    if name in _FAMILY:
        colour, variant = _FAMILY[name]
        index = list(_FAMILY).index(name)
        return {"color": _shade(colour, variant), "linestyle": ("-", "--")[variant], "marker": _MARKERS[index % len(_MARKERS)],
                "linewidth": 2.0 if name in HIGHLIGHTED else 1.3, "zorder": 3 if name in HIGHLIGHTED else 2}
    h = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
    return {"color": _OTHER_COLOURS[h % len(_OTHER_COLOURS)], "linestyle": (":", "-.")[(h >> 8) % 2],
            "marker": _MARKERS[(h >> 12) % len(_MARKERS)], "linewidth": 1.3, "zorder": 2}


def line_style(name: str) -> dict:
    """``strategy_style`` without the marker (for curves with a point at every query)."""
    return {k: v for k, v in strategy_style(name).items() if k != "marker"}


def _chunks(names: list[str], size: int) -> list[list[str]]:
    """``names`` in consecutive groups of at most ``size``, as equal in length as possible."""
    if not names:
        return []
    n = -(-len(names) // size)
    bounds = np.linspace(0, len(names), n + 1).round().astype(int)
    return [names[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def strategy_panels(strategies: Iterable[str], featured: Sequence[str] = ()) -> list[list[str]]:
    """Strategies split into panels of at most ``MAX_CURVES``: all in one when they fit; otherwise the
    ``featured`` ones (the space's paper comparison) first, then the others, each later panel repeating
    the highlighted method (``HIGHLIGHTED``) as the common reference."""
    names = sorted(set(strategies))
    if len(names) <= MAX_CURVES:
        return [names] if names else []
    first = [s for s in names if s in featured]
    anchor = [s for s in HIGHLIGHTED if s in names and s in first]
    rest = [s for s in names if s not in first]
    return _chunks(first, MAX_CURVES) + [anchor + c for c in _chunks(rest, MAX_CURVES - len(anchor))]


def _plain(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def log_ticks(low: float, high: float) -> list[float]:
    """Round values at 1-2-5 (or 1-3, or 1) per decade between ``low`` and ``high`` (> 0), at most 7."""
    decades = np.arange(np.floor(np.log10(low)) - 1, np.ceil(np.log10(high)) + 1)
    for steps in ((1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10.0 ** d for d in decades for m in steps]
        ticks = [float(t) for t in ticks if low * 0.999 <= t <= high * 1.001]
        if len(ticks) <= 7:
            break
    return ticks


def plain_ticks(axis, ticks: Sequence[float]) -> None:
    """Exactly ``ticks``, labelled plainly ("0.5", "20", "10,000"), no minor ticks."""
    axis.set_major_locator(FixedLocator(list(ticks)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _plain(v)))
    axis.set_minor_locator(NullLocator())


def plain_linear(axis, integer: bool = False) -> None:
    """A few round ticks without offset or scientific notation."""
    axis.set_major_locator(MaxNLocator(nbins=5, integer=integer))
    fmt = ScalarFormatter(useOffset=False)
    fmt.set_scientific(False)
    axis.set_major_formatter(fmt)


class NotDrawn(Exception):
    """A figure whose data cannot be drawn (e.g. no finite accuracy at all): the report leaves it out and
    says why in one line, instead of failing on matplotlib's NaN/inf errors."""


def save_figure(fig, stem: Path) -> list[Path]:
    """PNG and PDF without creation dates (figures may differ only in metadata). A figure with a
    layout engine (constrained layout) already fits its canvas; only the others are cropped to their
    tight bounding box, which costs another full draw per file."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    bbox = None if fig.get_layout_engine() is not None else "tight"
    fig.savefig(png, bbox_inches=bbox, metadata={"Software": None})
    fig.savefig(pdf, bbox_inches=bbox, metadata={"CreationDate": None, "Creator": None, "Producer": None})
    plt.close(fig)
    return [png, pdf]


__all__ = ["MAX_CURVES", "NotDrawn", "line_style", "log_ticks", "plain_linear", "plain_ticks", "plt", "save_figure", "sns",
           "strategy_panels", "strategy_style"]
