"""utils.plot: every figure is returned (closed in pyplot) with the axes and images expected."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from torch import nn  # noqa: E402

from utils import plot, results, train  # noqa: E402

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


def record(budget, acc, params, *, run="main", images=10_000, epochs=10):
    return {"run": run, "budget": budget, "best_test_acc": acc, "params": params,
            "macs": params * 10, "wall_seconds": 100, "train_images": images, "epochs": epochs}


def write_results(folder, **files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


def test_compare_full_and_cpu_runs_in_separate_panels(tmp_path):
    """One point per chapter and budget (the best of the latest record of each run), full runs
    on the left, cpu runs on the right, never on one axis; a cpu point says what it saw."""
    write_results(tmp_path, alexnet={"runs": [
        record("cpu", 0.61, 2_000_000), record("cpu", 0.65, 2_000_000),      # the latest counts
        record("cpu", 0.40, 2_000_000, run="tanh"),                          # a worse run
        record("full", 0.85, 2_000_000, images=50_000, epochs=20),
        record("quick", 0.2, 2_000_000)]},
        lenet5={"runs": [record("cpu", 0.55, 62_000, images=50_000, epochs=15)]})
    fig = plot.compare(tmp_path)
    full, cpu = fig.axes
    assert "full" in full.get_title() and "cpu" in cpu.get_title()
    assert [len(c.get_offsets()) for c in full.collections] == [1]
    assert [len(c.get_offsets()) for c in cpu.collections] == [2]
    assert sorted(cpu.collections[0].get_offsets()[:, 1]) == pytest.approx([55, 65])
    labels = sorted(t.get_text() for t in cpu.texts)
    assert labels[0].startswith("AlexNet 65.0%") and "100k images seen" in labels[0]
    assert "(10k × 10 epochs)" in labels[0]
    assert labels[1].startswith("LeNet-5 55.0%") and "750k images seen" in labels[1]
    assert [t.get_text() for t in full.texts] == ["AlexNet 85.0%\n20 epochs"]
    assert full.get_xscale() == cpu.get_xscale() == "log"
    assert "multiply-adds" in plot.compare(tmp_path, x="macs").axes[0].get_xlabel()
    with pytest.raises(ValueError, match="params"):
        plot.compare(tmp_path, x="flops")


def test_compare_with_one_budget_or_none(tmp_path):
    only_cpu = write_results(tmp_path / "cpu", vgg={"runs": [record("cpu", 0.3, 14_000_000)]})
    full, cpu = plot.compare(only_cpu).axes
    assert full.texts[0].get_text() == "no full-budget run recorded yet"
    assert len(cpu.collections) == 1
    only_full = write_results(tmp_path / "full", vgg={"runs": [record("full", 0.9, 14_000_000)]})
    full, cpu = plot.compare(only_full).axes
    assert len(full.collections) == 1
    assert cpu.texts[0].get_text() == "no cpu-budget run recorded yet"
    full, cpu = plot.compare(tmp_path / "nothing").axes
    assert "no full-budget" in full.texts[0].get_text()
    assert "no cpu-budget" in cpu.texts[0].get_text()


def test_read_results_is_the_one_reader_of_the_results_files(tmp_path):
    write_results(
        tmp_path,
        vgg={"reference": {
            "imagenet": {"network": "VGG-16", "params": 138_357_544, "macs": 15_470_264_320},
            "paper": {"table_3": {"D": {"top1_error": 25.6, "top5_error": 8.1},
                                  "E": {"top1_error": 25.5, "top5_error": 8.0},
                                  "source": "Table 3"},
                      "results": {"ILSVRC submission, test top-5": {"value": 7.3, "source": "T7"},
                                  "best net, val top-1/top-5": {"value": [24.8, 7.5]},
                                  "localisation error": {"value": 25.3}}}},
            "runs": [record("cpu", 0.3, 1), record("full", 0.9, 1), record("cpu", 0.35, 1)]},
        alexnet={"reference": {"paper": {"ilsvrc2012_one_cnn": {
            "top1_error_val": 40.7, "top5_error_val": 18.2, "source": "Table 2"}}}},
        nin={"reference": {"paper": {"cifar10_test_error": {"with_augmentation": 8.81},
                                     "imagenet": "no ImageNet result in the paper"}}},
        extra={"runs": []})
    chapters = results.read_results(tmp_path)
    assert [c["chapter"] for c in chapters] == ["alexnet", "nin", "vgg", "extra"]  # book order
    alexnet, nin, vgg, extra = chapters
    assert (alexnet["number"], alexnet["name"], alexnet["year"]) == (1, "AlexNet", 2012)
    assert alexnet["page"] == "chapters/01_alexnet" and extra["number"] is None
    assert [r["best_test_acc"] for r in vgg["latest"]] == [0.9, 0.35]         # full first
    assert vgg["network"] == {"name": "VGG-16", "params": 138_357_544,
                              "macs": 15_470_264_320, "imagenet": True}
    assert [r["path"] for r in vgg["results"]] == [
        "table_3/D", "table_3/E", "results/ILSVRC submission, test top-5",
        "results/best net, val top-1/top-5"]                               # not localisation
    assert vgg["results"][0]["source"] == "Table 3"
    assert vgg["headline"]["path"] == "table_3/D"            # not listed in HEADLINE: the first
    best = vgg["results"][3]
    assert (results.result_value(best, "top-1"), results.result_value(best, "top-5")) == (24.8, 7.5)
    assert best["values"][0]["split"] == "validation" and best["what"] == "best net"
    assert results.result_value(alexnet["headline"], "top-5") == 18.2
    assert alexnet["network"] is None
    assert nin["headline"] is None and nin["note"] == "no ImageNet result in the paper"
    assert nin["results"][0]["imagenet"] is False
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.json is not valid JSON"):
        results.read_results(tmp_path)


def test_accuracies_are_read_as_errors():
    """Later papers report accuracy: ``top1=70.6`` is read as a 29.4% top-1 error (the
    accuracy's decimals, not 29.400000000000006), an error stored beside it wins, and an
    accuracy does not name a table's row."""
    found = results.paper_results({
        "table_6": {"1.0": {"top1": 70.6, "macs_millions": 569}, "source": "Table 6"},
        "table_2": {"B0": {"top1": 76.3, "top5": 93.2, "top5_error": 6.9}},
        "rows": [{"model": "B7", "top1_accuracy": 84.4}]})
    assert [(r["path"], r["source"]) for r in found] == [
        ("table_6/1.0", "Table 6"), ("table_2/B0", None), ("model B7", None)]
    assert results.result_value(found[0], "top-1") == 29.4
    assert (results.result_value(found[1], "top-1"), results.result_value(found[1], "top-5")) == (23.7, 6.9)
    assert results.result_value(found[2], "top-1") == 15.6
    assert results.paper_results({"table": {"top1_params": 5.3, "top10": 99.0}}) == []


def test_headline_results_exist_in_the_records():
    """Every HEADLINE names a result its chapter's record has (a renamed key would silently
    fall back to another result)."""
    chapters = {c["chapter"]: c for c in results.read_results(results.REPO / "results")}
    for chapter, path in results.HEADLINE.items():
        if chapter in chapters:
            assert chapters[chapter]["headline"]["path"] == path, chapter


def test_imagenet_errors_one_bubble_per_network_area_by_parameters(tmp_path):
    net = {"network": "n", "macs": 1}
    write_results(
        tmp_path,
        alexnet={"reference": {"imagenet": {**net, "params": 60_000_000},
                               "paper": {"one": {"top1_error_val": 40.7, "top5_error_val": 18.2}}}},
        zfnet={"reference": {"imagenet": {**net, "params": 30_000_000},
                             "paper": {"one": {"top5_error_val": 16.5}}}},      # no top-1
        nin={"reference": {"imagenet": {**net, "params": 7_000_000},
                           "paper": {"imagenet": "no ImageNet result in the paper"}}},
        lenet5={"reference": {"paper": {"params": 60_000, "task": "MNIST digits, 60,000",
                                         "test_error_percent": 0.95}}})
    fig = plot.imagenet_errors(tmp_path)
    top1, top5 = fig.axes
    (c1,), (c5,) = ([c for c in ax.collections if len(c.get_offsets())] for ax in fig.axes)
    assert list(c1.get_offsets()[:, 0]) == [2012] and list(c1.get_offsets()[:, 1]) == [40.7]
    assert list(c5.get_offsets()[:, 1]) == [18.2, 16.5]
    assert c5.get_sizes()[0] == pytest.approx(2 * c5.get_sizes()[1])       # area ~ parameters
    note = fig._supxlabel.get_text().replace("\n", " ")
    assert "Network in Network (no ImageNet result in the paper)" in note
    assert "LeNet-5 (no ImageNet result; its paper's task: MNIST digits)" in note


def ilsvrc_rows():
    rows = [dict(year=2011, kind="winner", team="XRCE", network="", top5_error="25.8",
                 chapter="", note="", source="s"),
            dict(year=2012, kind="winner", team="SuperVision", network="AlexNet",
                 top5_error="16.4", chapter="alexnet", note="", source="s"),
            dict(year=2012, kind="winner-extra-data", team="SuperVision", network="AlexNet",
                 top5_error="15.3", chapter="alexnet", note="", source="s"),
            dict(year=2013, kind="no-result", team="", network="Network in Network",
                 top5_error="", chapter="nin", note="no ImageNet result", source="s"),
            dict(year=2014, kind="runner-up", team="VGG", network="VGG", top5_error="7.3",
                 chapter="vgg", note="", source="s"),
            dict(year=2014, kind="winner", team="GoogLeNet", network="GoogLeNet",
                 top5_error="6.67", chapter="googlenet", note="", source="s")]
    return rows


def test_ilsvrc_timeline_names_the_winners_and_marks_the_chapters():
    chapters = {"alexnet": {"number": 1}, "nin": {"number": 3}, "vgg": {"number": 4}}
    fig = plot.ilsvrc_timeline(ilsvrc_rows(), chapters)
    (ax,) = fig.axes
    (line,) = [l for l in ax.get_lines() if len(l.get_xdata()) > 0]
    assert list(line.get_xdata()) == [2011, 2012, 2014]                      # the winners
    assert list(line.get_ydata()) == [25.8, 16.4, 6.67]
    texts = [t.get_text() for t in ax.texts]
    assert "XRCE\n25.8%" in texts and "2nd: VGG (ch. 4), 7.3%" in texts
    assert "SuperVision (AlexNet, ch. 1)\n16.4%, 15.3% with extra data" in texts
    assert "GoogLeNet\n6.67%" in texts                           # its chapter is not written yet
    assert "Network in Network (ch. 3):\nno ImageNet result" in texts
    assert ax.get_xticks()[0] == 2011 and ax.get_xticks()[-1] == 2014


def boxes_overlap(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("which", ["compare", "imagenet", "timeline"])
def test_the_book_figures_labels_do_not_overlap(which):
    """The figures scripts/leaderboard.py draws, from the repository's own data."""
    import csv
    chapters = results.read_results(results.REPO / "results")
    if which == "compare":
        fig = plot.compare(chapters=chapters)
    elif which == "imagenet":
        fig = plot.imagenet_errors(chapters=chapters)
    else:
        with open(results.REPO / "book" / "figure-data" / "ilsvrc.csv", encoding="utf-8") as f:
            rows = [{**r, "year": int(r["year"])} for r in csv.DictReader(f)]
        fig = plot.ilsvrc_timeline(rows)
    assert fig.get_size_inches()[0] <= 7.5
    renderer = plot._renderer(fig)
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
        frame = ax.get_window_extent(renderer)
        for i, a in enumerate(boxes):
            assert frame.x0 - 1 <= a.x0 and a.x1 <= frame.x1 + 1, ax.texts[i].get_text()
            for b in boxes[i + 1:]:
                assert not boxes_overlap(a, b), (ax.texts[i].get_text(), [
                    t.get_text() for t in ax.texts])


def test_use_style_sets_the_course_look():
    with matplotlib.rc_context():
        plot.use_style()
        assert matplotlib.rcParams["axes.spines.top"] is False
        first = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0]
        assert to_hex(first) == plot.PALETTE[0].lower()
