"""Matplotlib set-up for headless, reproducible figures at paper size."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

sns.set_theme(context="paper", style="whitegrid", font_scale=0.9)
plt.rcParams.update({"figure.dpi": 150, "savefig.dpi": 200, "svg.hashsalt": "nas-harness"})


class NotDrawn(Exception):
    """A figure whose data cannot be drawn (e.g. no finite accuracy at all): the report leaves it out and
    says why in one line, instead of failing on matplotlib's NaN/inf errors."""


def save_figure(fig, stem: Path) -> list[Path]:
    """PNG and PDF without creation dates (figures may differ only in metadata)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    fig.savefig(png, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(pdf, bbox_inches="tight", metadata={"CreationDate": None, "Creator": None, "Producer": None})
    plt.close(fig)
    return [png, pdf]


__all__ = ["NotDrawn", "plt", "save_figure", "sns"]
