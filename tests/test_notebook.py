"""utils.notebook: outside a notebook the reporter prints plain lines and draws nothing; figures
become PNG bytes; a widget displays with a stable text (the explorer's tests check widgets)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from utils import notebook  # noqa: E402


def test_outside_a_notebook_the_reporter_prints_lines(capsys):
    assert not notebook.in_notebook() and not notebook.live_kernel()
    drawn = []
    report = notebook.Reporter(notebook.in_notebook(), live_plot=True, draw=drawn.append)
    report.line("epoch 1/2  ...")
    report.figure(type("H", (), {"epochs": [{}]})())
    report.close()
    assert capsys.readouterr().out == "epoch 1/2  ...\n" and drawn == []


def test_png_closes_the_figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    data = notebook.png(fig, dpi=50)
    assert data[:4] == b"\x89PNG" and plt.get_fignums() == []
    assert repr(notebook.Text("a\nb")) == "a\nb"
