"""Tests of utils.explorer without a browser: the callback's computation, the drawing, the
static snapshot the book shows, and the widget's wiring, with this environment's ipywidgets (8),
with 7.7.1, the version Colab ships, and with the lowest that requirements.txt admits (each
installed into a throwaway folder)."""

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from packaging.version import Version  # noqa: E402
from torch import nn  # noqa: E402

from utils import explorer as ex  # noqa: E402


def test_explore_alexnet_conv1():
    r = ex.explore(size=227, kernel=11, stride=4, padding=0, dilation=1, c_in=3, c_out=96)
    assert r["out"] == 55 and r["params"] == 34_944 and r["macs"] == 105_415_200
    assert r["shape_out"] == (96, 55, 55) and r["fits"]
    md = r["markdown"]
    assert "(227 − 11 + 2·0)/4 + 1 = 55" in md and "(11·11·3 + 1)·96 = 34,944" in md
    assert "210,830,400 FLOPs" in md


def test_explore_explains_a_floor_and_a_misfit():
    r = ex.explore(size=224, kernel=11, stride=4, padding=0, dilation=1, c_in=3, c_out=96)
    assert r["out"] == 54 and "54.25 is not a whole number" in r["markdown"]
    r = ex.explore(size=3, kernel=5, stride=1, padding=0, dilation=1, c_in=1, c_out=1)
    assert not r["fits"] and r["macs"] == 0 and "does not fit" in r["markdown"]
    assert r["shape_out"] == (1, 0, 0)


@pytest.mark.parametrize("size, kernel, stride, padding, dilation",
                         [(13, 3, 2, 1, 1), (9, 3, 2, 0, 2), (8, 5, 3, 2, 1), (227, 11, 4, 0, 1)])
def test_explore_agrees_with_pytorch(size, kernel, stride, padding, dilation):
    conv = nn.Conv2d(2, 4, kernel, stride, padding, dilation)
    y = conv(torch.zeros(1, 2, size, size))
    r = ex.explore(size, kernel, stride, padding, dilation, 2, 4)
    assert r["shape_out"] == tuple(y.shape[1:])
    assert r["params"] == sum(p.numel() for p in conv.parameters())


def test_covered_marks_what_the_floor_leaves_out():
    assert ex.covered(7, 3, 2, 0, 1) == [1, 1, 2, 1, 2, 1, 1]
    assert ex.covered(8, 3, 2, 0, 1)[-1] == 0          # (8 − 3)/2 + 1 = 3.5 → 3
    assert ex.covered(9, 3, 2, 0, 2)[1::2] == [0] * 4  # dilation 2, stride 2: odd pixels unseen
    assert ex.covered(5, 3, 1, 1, 1) == [1, 2, 3, 3, 3, 2, 1]


def test_draw_returns_a_figure_with_the_window():
    import matplotlib.pyplot as plt
    fig = ex.draw(8, 3, 2, 1, 1)
    a_in, a_out = fig.axes
    assert a_in.get_title() == "input 8×8, padded to 10×10" and a_out.get_title() == "output 4×4"
    (window,) = a_in.patches
    assert window.get_xy() == (5.5, 5.5)  # the last window starts at 3·2 = 6 (cell edges at ±0.5)
    image = a_in.images[0].get_array()
    assert image.shape == (10, 10, 3) and tuple(image[0, 0]) == (0.85, 0.85, 0.85)  # padding
    assert tuple(image[6, 6]) == tuple(image[8, 8]) == (0.55, 0.7, 0.9)  # the taps
    plt.close(fig)
    fig = ex.draw(3, 5, 1, 0, 1)
    assert fig.axes[1].get_title().startswith("no output")
    plt.close(fig)
    fig = ex.draw(9, 3, 2, 0, 2, position=0)
    assert "no window reaches" in fig.axes[0].get_xlabel()
    plt.close(fig)


def test_snapshot_is_static_and_says_to_open_colab(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    monkeypatch.setattr(ex, "live_kernel", lambda: False)
    ex.explorer(snapshot=True, size=227, kernel=11, stride=4, padding=0)
    assert len(shown) == 2  # a Markdown paragraph and a figure, nothing interactive
    assert "Open this page in Colab" in shown[0].data and "= 55" in shown[0].data
    assert isinstance(shown[1], matplotlib.figure.Figure)
    with pytest.raises(TypeError, match="unknown settings"):
        ex.explorer(sizes=3)


def test_widget_updates_and_has_a_stable_text_form(monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    w = ex.widget(size=20, kernel=3, stride=2, padding=1)
    controls, text, image = w.children
    sliders = {s.description: s for row in controls.children for s in row.children
               if hasattr(s, "description")}
    assert sliders["size"].value == 20 and sliders["window"].max == 10 * 10 - 1
    assert "(20 − 3 + 2·1)/2 + 1 = 10.5 → 10" in text.value and image.value[:4] == b"\x89PNG"
    sliders["stride"].value = 1
    assert sliders["window"].max == 20 * 20 - 1 and "= 20" in text.value
    assert ex.widget(size=300).children[0].children[0].children[0].value == 300  # beyond the slider's range
    bundle = ex.WidgetWithText(w)._repr_mimebundle_()
    assert bundle["text/plain"] == ex.WIDGET_TEXT
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert ex.WidgetWithText(w, "[controls]")._repr_mimebundle_()["text/plain"] == "[controls]"


def show_live_explorer() -> dict:
    """Display the live explorer as a kernel would (``_repr_mimebundle_`` on what is shown) and
    a bare WidgetWithText; return what they gave. Run here (ipywidgets 8) and, as source, in a
    subprocess with another ipywidgets (7.x), so it imports everything it needs itself."""
    import IPython.display
    import ipywidgets

    from utils import explorer as ex

    shown = []
    IPython.display.display = lambda *objs, **kw: shown.extend(o._repr_mimebundle_() for o in objs)
    ex.live_kernel = lambda: True
    ex.explorer(snapshot=False, size=20)
    displayed = []
    controls = ipywidgets.VBox([ipywidgets.IntSlider()])
    if hasattr(controls, "on_displayed"):  # 7.x only
        controls.on_displayed(lambda widget, **kw: displayed.append(True))
    bundle = ex.WidgetWithText(controls, "[controls]")._repr_mimebundle_()
    return dict(version=ipywidgets.__version__, shown=shown, bundle=bundle,
                displayed=bool(displayed))


def check_live_explorer(result):
    """Every version: one widget shown, with the view reference a front end needs and the
    stable text that nbval compares."""
    (explorer,) = result["shown"]
    for bundle, text in ((explorer, ex.WIDGET_TEXT), (result["bundle"], "[controls]")):
        assert bundle["text/plain"] == text
        view = bundle["application/vnd.jupyter.widget-view+json"]
        assert view["version_major"] == 2 and len(view["model_id"]) == 32


def test_live_explorer_with_this_environments_ipywidgets(monkeypatch):
    pytest.importorskip("ipywidgets")
    # show_live_explorer replaces these two; set through monkeypatch, they are restored after
    monkeypatch.setattr("IPython.display.display", None)
    monkeypatch.setattr(ex, "live_kernel", ex.live_kernel)
    check_live_explorer(show_live_explorer())


def lowest_ipywidgets() -> str:
    """The lower bound requirements.txt gives ipywidgets."""
    text = (Path(__file__).resolve().parent.parent / "requirements.txt").read_text(encoding="utf-8")
    return re.search(r"^ipywidgets>=([\d.]+)", text, re.M).group(1)


@pytest.fixture(scope="session")
def ipywidgets_folder(tmp_path_factory):
    """``folder(version)``: a folder holding that ipywidgets and ipython_genutils (which 7.x
    imports and this environment lacks), installed once per session; its front-end packages
    are not needed in Python. Skips when PyPI cannot be reached."""
    folders = {}

    def folder(version: str) -> Path:
        if version not in folders:
            target = tmp_path_factory.mktemp(f"ipywidgets-{version}")
            cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                   "--disable-pip-version-check", "--target", str(target),
                   f"ipywidgets=={version}", "ipython_genutils==0.2.0"]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            except subprocess.TimeoutExpired:
                pytest.skip(f"could not install ipywidgets {version}: pip timed out (no PyPI?)")
            if done.returncode:
                last = (done.stderr.strip().splitlines() or ["no message"])[-1]
                pytest.skip(f"could not install ipywidgets {version} (is PyPI reachable?): {last}")
            folders[version] = target
        return folders[version]
    return folder


@pytest.mark.parametrize("version", ["7.7.1", lowest_ipywidgets()], ids=["colab", "lowest"])
def test_live_explorer_with_colabs_and_the_lowest_ipywidgets(ipywidgets_folder, version):
    root = Path(__file__).resolve().parent.parent
    code = (f"import json, sys\nsys.path[:0] = {[str(ipywidgets_folder(version)), str(root)]!r}\n"
            + inspect.getsource(show_live_explorer)
            + "print(json.dumps(show_live_explorer()))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Version(result["version"]) == Version(version)
    check_live_explorer(result)
    assert result["displayed"] or Version(version).major >= 8  # 7.x's on-displayed callbacks run
