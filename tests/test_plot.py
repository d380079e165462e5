"""utils.plot: every figure is returned (closed in pyplot) with the axes and images expected."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from torch import nn  # noqa: E402

from utils import plot, train  # noqa: E402

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def history(run, accs, images=1000):
    b = train.Budget("quick", len(accs), images, 100, 100)
    h = train.History(run=run, chapter="test", budget=b, device_name="CPU (2 threads)")
    for i, a in enumerate(accs):
        h.epochs.append({"epoch": i + 1, "train_loss": 2 - a, "train_acc": a, "test_loss": 2.1 - a,
                         "test_acc": a - 0.05, "seconds": 1.0, "train_seconds": 0.8,
                         "images": images, "images_per_s": images / 0.8})
        for k in range(1, 5):
            h.trace.append({"images": i * images + k * images // 4, "train_loss": 2 - a,
                            "train_acc": a})
    return h


@pytest.fixture(autouse=True)
def no_open_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a plotting function left a figure open in pyplot"


def test_curves_draws_one_line_per_run_on_one_axis():
    runs = {"ReLU": history("relu", [0.3, 0.5, 0.7]), "tanh": history("tanh", [0.2, 0.3, 0.4])}
    fig = plot.curves(runs, metric="train_err", target=25)
    (ax,) = fig.axes
    lines = [l for l in ax.get_lines() if l.get_label() in runs]
    assert [l.get_label() for l in lines] == ["ReLU", "tanh"]
    assert list(lines[0].get_ydata()) == pytest.approx([70, 50, 30])          # errors in %
    assert ax.get_ylabel() == "training error (%)"
    fig = plot.curves(runs, metric="train_acc", x="images")
    assert len(fig.axes[0].get_lines()[0].get_xdata()) == 12                  # the finer trace
    fig, ax = plt.subplots()
    assert plot.curves(runs, "test_acc", ax=ax) is fig
    plt.close(fig)
    with pytest.raises(ValueError, match="metric"):
        plot.curves(runs, metric="accuracy")


def test_training_figure_has_loss_and_accuracy_panels():
    fig = plot.training(history("r", [0.3, 0.5]))
    assert [a.get_ylabel() for a in fig.axes] == ["loss", "accuracy (%)"]
    assert all(len(a.get_lines()) == 2 for a in fig.axes)


def test_image_grid_titles_wrong_predictions_in_red():
    images = torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(12) % 10
    preds = labels.clone()
    preds[3] = (labels[3] + 1) % 10
    fig = plot.image_grid(images, labels, CLASSES, predictions=preds, n=12, cols=6)
    assert len(fig.axes) == 12 and all(len(a.images) == 1 for a in fig.axes)
    colours = [to_hex(a.title.get_color()) for a in fig.axes]
    assert colours[3] == plot.WRONG.lower() and colours.count(plot.WRONG.lower()) == 1
    assert "true: cat" in fig.axes[3].get_title()
    fig = plot.image_grid(images, labels, CLASSES, n=5)
    assert len(fig.axes) == 5 and fig.axes[0].get_title() == "airplane"


def test_confusion_matrix_is_normalised_per_true_class():
    cm = torch.zeros(10, 10, dtype=torch.long)
    cm[0, 0], cm[0, 1], cm[1, 1] = 3, 1, 4
    fig = plot.confusion(cm, CLASSES)
    assert len(fig.axes) == 2                                                 # matrix, colour bar
    shown = fig.axes[0].images[0].get_array()
    assert shown[0, 0] == pytest.approx(75) and shown[0, 1] == pytest.approx(25)
    assert len(fig.axes[0].texts) == 100


def test_filters_one_rgb_image_per_filter_scaled_on_its_own():
    conv = nn.Conv2d(3, 20, 5)
    fig = plot.filters(conv, cols=8)
    assert len(fig.axes) == 20 and all(len(a.images) == 1 for a in fig.axes)
    img = fig.axes[0].images[0].get_array()
    assert img.shape == (5, 5, 3)
    assert img.min() == pytest.approx(0) and img.max() == pytest.approx(1)
    grey = plot.filters(torch.randn(4, 16, 3, 3))
    assert len(grey.axes) == 4
    with pytest.raises(ValueError, match="out, in, k, k"):
        plot.filters(torch.randn(4, 3, 3))


def test_feature_maps_of_a_named_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 12, 3, stride=2))
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    fig = plot.feature_maps(model, "1", image, n=6)
    assert len(fig.axes) == 7 and fig.axes[0].get_title() == "input"         # input + 6 maps
    assert fig.axes[1].images[0].get_array().shape == (32, 32)
    fig = plot.feature_maps(model, model[2], image, n=16)
    assert len(fig.axes) == 13 and fig.axes[1].images[0].get_array().shape == (15, 15)
    assert model.training                                                     # mode restored
    with pytest.raises(KeyError, match="no layer named 'conv9'"):
        plot.feature_maps(model, "conv9", image)


def test_compare_one_bubble_per_chapter_and_budget(tmp_path):
    def run(budget, acc, params, seconds):
        return {"run": "main", "budget": budget, "best_test_acc": acc, "params": params,
                "macs": params * 10, "wall_seconds": seconds}

    (tmp_path / "alexnet.json").write_text(json.dumps({"chapter": "alexnet", "runs": [
        run("cpu", 0.61, 2_000_000, 300), run("cpu", 0.65, 2_000_000, 320),
        run("full", 0.85, 2_000_000, 600), run("quick", 0.2, 2_000_000, 5)]}))
    (tmp_path / "lenet5.json").write_text(json.dumps({"chapter": "lenet5", "runs": [
        run("cpu", 0.55, 62_000, 100)]}))
    fig = plot.compare(tmp_path)
    (ax,) = fig.axes
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sorted(sizes) == [1, 2]                                            # full: 1, cpu: 2
    assert sorted(t.get_text() for t in ax.texts) == ["alexnet", "alexnet", "lenet5"]
    assert ax.get_xscale() == "log"
    fig = plot.compare(tmp_path, x="macs")
    assert "multiply-adds" in fig.axes[0].get_xlabel()
    empty = plot.compare(tmp_path / "nothing")
    assert "no cpu or full runs" in empty.axes[0].texts[0].get_text()


def test_use_style_sets_the_course_look():
    with matplotlib.rc_context():
        plot.use_style()
        assert matplotlib.rcParams["axes.spines.top"] is False
        first = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0]
        assert to_hex(first) == plot.PALETTE[0].lower()
