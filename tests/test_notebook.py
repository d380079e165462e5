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


def test_the_epoch_log_is_folded_under_its_last_line_on_a_page():
    log = notebook.Log(["epoch 1/3 ... 40%", "epoch 2/3 ... 50%", "epoch 3/3 ... 55%"])
    assert repr(log) == "epoch 1/3 ... 40%\nepoch 2/3 ... 50%\nepoch 3/3 ... 55%"  # nbval, terminal
    page = log._repr_html_()
    assert page.startswith('<details class="epoch-log"><summary>epoch 3/3 ... 55% (the log of all '
                           "3 epochs: click)</summary>")
    assert "epoch 1/3 ... 40%\nepoch 2/3" in page and "<details" not in page[10:]
    assert notebook.Log(["epoch 1/1 <b>"])._repr_html_() == "<pre>epoch 1/1 &lt;b&gt;</pre>"
    assert notebook.Log([])._repr_html_() == ""
    # the run's summary line ends the log: it is not counted as an epoch
    ended = notebook.Log(["epoch 1/2 ...", "epoch 2/2 ...", "run (full budget): best 50%"])
    assert "(the log of all 2 epochs: click)" in ended._repr_html_()
