"""The course's look for figures, in one small module that every plotting module imports.

``utils.plot`` re-exports all of it (``plot.STYLE``, ``plot.PALETTE``), so chapters keep using
``utils.plot``. It lives here, apart from ``utils.plot``, so that ``utils.diagram`` can use the
same look while ``utils.plot`` offers ``architecture`` from ``utils.diagram``, without either
module importing the other in a cycle.
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt

# Okabe & Ito (2008): eight colours that stay distinct for the common forms of colour blindness.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

STYLE = {
    "figure.figsize": (7.0, 3.6),  # the book's text column, at a readable font size
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
}


def figure(nrows=1, ncols=1, **kw):
    """A new figure in the course's style, already closed in pyplot: a notebook shows it once,
    when it is returned, never twice."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained", **kw)
    plt.close(fig)
    return fig, axes
