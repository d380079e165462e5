"""Notebook plumbing, in one place: is this a notebook, widgets that leave a static trace,
figures as PNG, and the reporter that shows a training run's progress.

The book is built from the stored notebooks, which cannot run widgets, and nbval compares every
stored output with a fresh run. So whatever is displayed here leaves a stable plain-text form
(``WidgetWithText``), progress bars vanish at the end, and a live figure is a PNG redrawn in
place: the stored notebook keeps text and one static image, never a widget's memory address.
Used by ``utils.train`` (the reporter), ``utils.explorer`` (the convolution explorer) and the
chapters' own controls (through ``utils.explorer``'s names).
"""

from __future__ import annotations

import io
import sys

#: What a widget shows where no kernel runs it, unless its caller says otherwise.
WIDGET_TEXT = "[an interactive control: it needs a running notebook, e.g. in Colab]"
VIEW_MIMETYPE = "application/vnd.jupyter.widget-view+json"


def in_notebook() -> bool:
    """True inside a running Jupyter kernel (Colab, JupyterLab, or a notebook being executed by
    nbclient/nbval), where display slots and live figures make sense; False in a terminal,
    in a plain script and in IPython's terminal shell. IPython is never imported here."""
    ip = sys.modules.get("IPython")
    shell = ip.get_ipython() if ip is not None and hasattr(ip, "get_ipython") else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def live_kernel() -> bool:
    """True where a live ipywidgets control can work: inside a running kernel
    (``in_notebook``), with ipywidgets installed."""
    if not in_notebook():
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def widget_bundle(widget, **kwargs) -> dict:
    """The display data of an ipywidget, in ipywidgets 8 and in 7.x alike.

    Colab ships ipywidgets 7.7, whose widgets have no ``_repr_mimebundle_``: they display
    themselves from ``_ipython_display_`` with the view reference built here (the widget-view
    mimetype, version 2.0 and the model's id), then run their on-displayed callbacks."""
    if hasattr(widget, "_repr_mimebundle_"):  # ipywidgets 8
        bundle = widget._repr_mimebundle_(**kwargs)
        return dict((bundle[0] if isinstance(bundle, tuple) else bundle) or {})
    if widget._view_name is None:  # a model with no view (a Layout, a link): nothing to show
        return {}
    data = {VIEW_MIMETYPE: dict(version_major=2, version_minor=0, model_id=widget.model_id)}
    getattr(widget, "_handle_displayed", lambda: None)()  # as 7.x's _ipython_display_ does
    return data


class WidgetWithText:
    """Displays an ipywidget with a stable plain-text fallback ``text`` (what nbval compares and
    what a page without a running kernel would print), instead of the widget's repr, which
    holds a memory address."""

    def __init__(self, widget, text: str = WIDGET_TEXT):
        self.widget, self.text = widget, text

    def _repr_mimebundle_(self, **kwargs):
        data = widget_bundle(self.widget, **kwargs)
        data["text/plain"] = self.text
        return data


class Text:
    """Plain text for a display slot (shown like printed output)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


class Log:
    """A training run's per-epoch log: all its lines as plain text (a terminal, nbval), and on a
    page folded under its last line (an HTML ``<details>``), so the book shows where the run
    ended and a reader opens the rest on demand."""

    def __init__(self, lines, what: str = "epoch"):
        self.lines, self.what = list(lines), what

    def __repr__(self) -> str:
        return "\n".join(self.lines)

    def _repr_html_(self) -> str:
        import html
        if not self.lines:
            return ""
        last = html.escape(self.lines[-1])
        if len(self.lines) == 1:
            return f"<pre>{last}</pre>"
        # count the epochs, not the lines: the last line is often the run's summary
        n = sum(line.lstrip().startswith(self.what) for line in self.lines)
        what = f"{self.what}{'s' * (n != 1)}" if n else "lines"
        rest = html.escape("\n".join(self.lines))
        return (f'<details class="epoch-log"><summary>{last} (the log of all {n or len(self.lines)} '
                f"{what}: click)</summary><pre>{rest}</pre></details>")


def png(fig, dpi=None) -> bytes:
    """A matplotlib figure as PNG bytes (``dpi`` None: the figure's or the style's); the figure
    is closed in pyplot, so that a notebook never shows it a second time."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **({} if dpi is None else {"dpi": dpi}))
    plt.close(fig)
    return buffer.getvalue()


class Reporter:
    """Where a run's progress goes: a transient tqdm.auto bar, a text line per epoch, a figure.

    In a notebook (Jupyter, Colab) three display slots are used, each updated in place: the epoch
    log (plain text, one line per epoch), the progress bar (one tqdm widget for the whole run, reset
    each epoch, and replaced by nothing at the end) and the training curve (a PNG of
    ``draw(history)``, redrawn after every epoch). The stored notebook thus keeps the log and
    exactly one static figure, and no widget (the book cannot show widgets). Elsewhere (terminal,
    tests, CI) the lines are printed, tqdm draws its text bar on a terminal only, and nothing is
    plotted. ``draw``: a function of the history that returns a matplotlib figure (the caller's,
    so that this module imports no plotting code); None draws nothing.
    """

    def __init__(self, notebook: bool, live_plot: bool, draw=None):
        self.notebook, self.draw = notebook, draw
        self.live_plot = live_plot and notebook and draw is not None
        self.lines, self.bar = [], None
        self.log_slot = self.bar_slot = self.fig_slot = None
        if self.notebook:
            from IPython.display import HTML, display
            self.log_slot = display(Text(""), display_id=True)
            self.bar_slot = display(HTML(""), display_id=True)
            if self.live_plot:
                self.fig_slot = display(HTML(""), display_id=True)

    def line(self, text: str):
        """One line of the log: printed, or appended to the notebook's log slot."""
        if self.log_slot is None:
            print(text, flush=True)
        else:
            self.lines.append(text)
            self.log_slot.update(Log(self.lines))

    def start_epoch(self, total: int, desc: str):
        if self.notebook:
            if self.bar is None:
                try:
                    from tqdm.notebook import tqdm as tqdm_nb
                    self.bar = tqdm_nb(total=total, desc=desc, leave=False, unit="batch",
                                       display=False)
                    self.bar_slot.update(WidgetWithText(self.bar.container, ""))
                except Exception:  # noqa: BLE001 - no ipywidgets: no bar; the log remains
                    self.bar = False
            elif self.bar:
                self.bar.reset(total=total)
                self.bar.set_description(desc, refresh=False)
            return
        from tqdm.auto import tqdm
        self.bar = tqdm(total=total, desc=desc, leave=False, unit="batch", disable=None)

    def step(self, n: int, **postfix):
        if self.bar:
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(n)

    def end_epoch(self):
        if self.bar and not self.notebook:
            self.bar.close()
            self.bar = None

    def figure(self, history):
        """Redraw the live figure (in a notebook, with ``live_plot`` and a ``draw``)."""
        if self.fig_slot is None or not history.epochs:
            return
        from IPython.display import Image
        self.fig_slot.update(Image(data=png(self.draw(history)), format="png"))

    def close(self):
        if self.bar:
            self.bar.close()
        self.bar = None
        if self.bar_slot is not None:
            from IPython.display import HTML
            self.bar_slot.update(HTML(""))
            self.bar_slot = None
