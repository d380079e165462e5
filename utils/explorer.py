"""An interactive convolution explorer: sliders for the input size, kernel, stride, padding,
dilation and channels; it shows the output size with its derivation, the parameters, the
multiply-adds and a drawing of the window sliding over the padded input.

The computation is two plain functions, tested without a browser: :func:`explore` (the numbers
and a Markdown paragraph) and :func:`draw` (a matplotlib figure). :func:`explorer` wires them to
ipywidgets. A book page built from stored outputs cannot run sliders, so ``explorer()`` first
shows a static snapshot (figure and text) with a note to open the page in Colab, then the live
widget where a kernel is running.
"""

from __future__ import annotations

from utils import arithmetic as ar
from utils import notebook
# The notebook plumbing lives in utils.notebook; ``explorer.live_kernel`` and
# ``explorer.WidgetWithText`` stay importable from here, as the chapters use them.
from utils.notebook import live_kernel, png

DEFAULTS = dict(size=13, kernel=3, stride=2, padding=1, dilation=1, c_in=3, c_out=8)
LIMITS = dict(size=(1, 256), kernel=(1, 11), stride=(1, 6), padding=(0, 5), dilation=(1, 4),
              c_in=(1, 512), c_out=(1, 512))
WIDGET_TEXT = "[the interactive explorer: its sliders need a running notebook, e.g. in Colab]"
PLAY_NOTE = ("This is a static snapshot. Open this page in Colab (or run the notebook in "
             "Jupyter) to move the sliders.")


def _out_size(*args) -> ar.Worked:
    """``conv_out``, or, for a window larger than the padded input, the arithmetic that shows
    it does not fit (the explorer draws that case instead of refusing it)."""
    try:
        return ar.conv_out(*args)
    except ar.NoOutput as misfit:
        return misfit.worked


def explore(size=13, kernel=3, stride=2, padding=1, dilation=1, c_in=3, c_out=8) -> dict:
    """Everything the explorer shows for one setting of the sliders (a square input and kernel).

    Returns a dict: ``out`` (the output size, a :class:`~utils.arithmetic.Worked`), ``params``,
    ``macs`` (Worked, 0 when nothing fits), ``fits`` (bool), ``shape_in``/``shape_out`` (C, H, W)
    and ``markdown``, the paragraph the widget displays.
    """
    out = _out_size(size, kernel, stride, padding, dilation)
    params = ar.conv_params(c_in, c_out, kernel)
    fits = out.value >= 1
    if fits:
        macs = ar.conv_macs(out.value, out.value, c_in, c_out, kernel)
    else:
        macs = ar.Worked(0, "no output, so no multiply-adds")
    result = dict(out=out, params=params, macs=macs, fits=fits, shape_in=(c_in, size, size),
                  shape_out=(c_out, max(out.value, 0), max(out.value, 0)))
    result["markdown"] = _markdown(result, kernel, dilation)
    return result


def _markdown(r, kernel, dilation) -> str:
    """The explorer's text: the three formulas in full sentences."""
    c, h, w = r["shape_in"]
    lines = [f"**Input** {c}×{h}×{w}, **output** {'×'.join(map(str, r['shape_out']))}.", "",
             f"- Output size: {r['out'].text}"]
    if dilation > 1:
        lines[-1] += (f" (a {kernel}×{kernel} kernel with dilation {dilation} spans "
                      f"{dilation}·({kernel} − 1) + 1 = {dilation * (kernel - 1) + 1} pixels)")
    if r["out"].note:
        lines.append(f"- {r['out'].note}.")
    lines.append(f"- Parameters (weights and biases): {r['params'].text}")
    flops = f" = {ar.fmt(2 * r['macs'].value)} FLOPs (1 MAC = 2 FLOPs)" if r["fits"] else ""
    lines.append(f"- Multiply-adds: {r['macs'].text}{flops}")
    return "\n".join(lines)


def covered(size, kernel, stride, padding, dilation) -> list[int]:
    """How many windows cover each position of the padded input (one dimension). Zeros at the
    end are the pixels that PyTorch's floor leaves out."""
    n = size + 2 * padding
    counts = [0] * n
    out = _out_size(size, kernel, stride, padding, dilation).value
    for o in range(max(out, 0)):
        for t in range(kernel):
            counts[o * stride + t * dilation] += 1
    return counts


def draw(size=13, kernel=3, stride=2, padding=1, dilation=1, position=None, ax=None):
    """Draw the padded input with one window on it and the output it produces.

    ``position`` is the index of the output pixel (row-major; default: the last one, which
    shows best where the window stops). Padding is grey, pixels that no window reaches are red,
    the window's taps are blue. Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle

    out = max(_out_size(size, kernel, stride, padding, dilation).value, 0)
    n = size + 2 * padding
    if ax is None:
        fig, axes = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw=dict(width_ratios=[n, max(out, 1)]))
    else:
        fig, axes = ax[0].figure, ax
    a_in, a_out = axes
    seen = np.array(covered(size, kernel, stride, padding, dilation)) > 0
    image = np.full((n, n, 3), 0.85)                      # padding: grey
    inside = slice(padding, padding + size)
    image[inside, inside] = 1.0                           # the input: white
    missed = ~np.outer(seen, seen)
    missed[:padding], missed[padding + size:], missed[:, :padding], missed[:, padding + size:] = 0, 0, 0, 0
    image[missed] = (1.0, 0.75, 0.75)                     # never under a window: red
    result = np.ones((max(out, 1), max(out, 1), 3))
    if out:
        position = out * out - 1 if position is None else min(max(position, 0), out * out - 1)
        oi, oj = divmod(position, out)
        top, left = oi * stride, oj * stride
        taps = np.arange(kernel) * dilation
        image[np.ix_(top + taps, left + taps)] = (0.55, 0.7, 0.9)  # the window's taps: blue
        result[oi, oj] = (0.55, 0.7, 0.9)
        span = dilation * (kernel - 1) + 1
        a_in.add_patch(Rectangle((left - 0.5, top - 0.5), span, span, fill=False,
                                 edgecolor="tab:blue", lw=2))
    a_in.imshow(image, interpolation="nearest")
    a_out.imshow(result, interpolation="nearest")
    for a, m in ((a_in, n), (a_out, max(out, 1))):
        if m <= 40:  # grid lines while the cells are big enough to see
            a.set_xticks(np.arange(-0.5, m, 1), minor=True)
            a.set_yticks(np.arange(-0.5, m, 1), minor=True)
            a.grid(which="minor", color="0.6", lw=0.5)
            a.tick_params(which="minor", length=0)
        a.set_xticks([])
        a.set_yticks([])
    a_in.set_title(f"input {size}×{size}, padded to {n}×{n}" if padding else f"input {size}×{size}")
    a_out.set_title(f"output {out}×{out}" if out else "no output: the window does not fit")
    if missed.any():
        a_in.set_xlabel("red: pixels that no window reaches")
    fig.tight_layout()
    return fig


def show_snapshot(**settings):
    """The static version: the explorer's text and figure for these settings, displayed with a
    note that the sliders need a live notebook (Colab)."""
    from IPython.display import Markdown, display
    import matplotlib.pyplot as plt

    s = {**DEFAULTS, **settings}
    r = explore(**s)
    display(Markdown(f"*{PLAY_NOTE}*\n\n" + r["markdown"]))
    fig = draw(s["size"], s["kernel"], s["stride"], s["padding"], s["dilation"])
    display(fig)
    plt.close(fig)


class WidgetWithText(notebook.WidgetWithText):
    """``utils.notebook.WidgetWithText`` whose text defaults to the explorer's
    (``WIDGET_TEXT``). Chapters with their own controls (the ZFNet projection explorer) display
    them through it too, with their own text."""

    def __init__(self, widget, text: str = WIDGET_TEXT):
        super().__init__(widget, text)


def _html(markdown: str) -> str:
    """The explorer's Markdown (bold, italics, a list) as HTML for an ipywidgets.HTML."""
    import html
    import re

    out, in_list = [], False
    for line in markdown.splitlines():
        text = html.escape(line.removeprefix("- "))
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        text = re.sub(r"\*(.+?)\*", r"<i>\1</i>", text)
        if line.startswith("- "):
            out.append(("" if in_list else "<ul>") + f"<li>{text}</li>")
            in_list = True
        else:
            out.append("</ul>" if in_list else "")
            in_list = False
            out.append(f"<p>{text}</p>" if text else "")
    return "".join(out) + ("</ul>" if in_list else "")


def widget(**settings):
    """The live explorer: sliders, the text and the drawing, updated on every change.

    It updates an HTML and an Image widget (no Output widget), so running the notebook
    without a browser (nbclient, nbval) sends no extra outputs."""
    import ipywidgets as w

    s = {**DEFAULTS, **settings}
    sliders = {k: w.IntSlider(value=s[k], min=min(lo, s[k]), max=max(hi, s[k]),
                              description=k.replace("_", " "), continuous_update=False)
               for k, (lo, hi) in LIMITS.items()}
    position = w.IntSlider(value=0, min=0, max=0, description="window")
    play = w.Play(value=0, min=0, max=0, interval=400)
    w.jslink((play, "value"), (position, "value"))
    text, image = w.HTML(), w.Image(format="png", layout=w.Layout(max_width="640px"))

    def update(change=None):
        values = {k: sl.value for k, sl in sliders.items()}
        r = explore(**values)
        last = max(r["shape_out"][1] ** 2 - 1, 0)
        position.max = play.max = last
        text.value = _html(r["markdown"])
        image.value = png(draw(values["size"], values["kernel"], values["stride"],
                               values["padding"], values["dilation"], min(position.value, last)),
                          dpi=80)

    for sl in [*sliders.values(), position]:
        sl.observe(update, names="value")
    update()
    controls = w.VBox([w.HBox(list(sliders.values())[:4]), w.HBox(list(sliders.values())[4:]),
                       w.HBox([play, position])])
    return w.VBox([controls, text, image])


def explorer(snapshot: bool = True, **settings) -> None:
    """Show the explorer. With ``snapshot=True`` (what the book's chapters use) it first shows
    the static snapshot, which the stored notebook keeps for the book, then, inside a running
    kernel with ipywidgets, the live sliders. ``settings`` override :data:`DEFAULTS`."""
    from IPython.display import display

    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}; choose from {sorted(DEFAULTS)}")
    if snapshot:
        show_snapshot(**settings)
    if live_kernel():
        display(WidgetWithText(widget(**settings)))
    elif not snapshot:
        show_snapshot(**settings)
