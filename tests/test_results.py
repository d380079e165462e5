"""Every chapter leaves a results record that the leaderboard and a teacher can trust.

A chapter's notebook writes ``results/<chapter>.json`` when it is executed with the ``cpu`` or
``full`` budget (``utils.train.fit``) and records its reference numbers with
``utils.train.record_reference``; ``utils.results`` owns their schema (``Record``). These tests
read the committed files: each chapter has one, with the paper's network's parameters and
multiply-adds (the ImageNet configuration, or for LeNet-5 the paper's MNIST network), the
CIFAR-10 network's, and at least one complete ``cpu`` run of that CIFAR-10 network. A chapter committed without running it, or a record that lost a
field, fails here rather than showing a hole on the leaderboard.
"""

import json
import re
from pathlib import Path

import pytest

from utils.results import Record

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted(p for p in (ROOT / "chapters").glob("*.ipynb") if re.match(r"\d+_", p.name))
# The epilogue (chapters/16_epilogue.ipynb) trains nothing and has no network of its own: it reads
# every other chapter's record and checks its own counts against them. It is the one notebook
# without a results file.
NO_RECORD = {"epilogue"}
NAMES = [n for n in (re.sub(r"^\d+_", "", p.stem) for p in CHAPTERS) if n not in NO_RECORD]

# Chapters whose paper did not train on ImageNet: their reference network is the paper's own.
PAPER_NETWORK_KEY = {"lenet5": "paper"}


def load(name):
    path = ROOT / "results" / f"{name}.json"
    assert path.is_file(), (f"results/{name}.json is missing: execute chapters/*_{name}.ipynb with "
                            "CNN_BUDGET=cpu (or on a GPU) and commit the file it writes")
    return json.loads(path.read_text(encoding="utf-8"))


def positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def test_there_are_chapters():
    assert len(CHAPTERS) >= 2, CHAPTERS


@pytest.mark.parametrize("name", NAMES)
def test_reference_numbers_are_recorded(name):
    ref = load(name).get("reference", {})
    key = PAPER_NETWORK_KEY.get(name, "imagenet")
    network = ref.get(key, {})
    for field in ("params", "macs"):
        assert positive_int(network.get(field)), f"{name}: reference.{key}.{field} = {network.get(field)!r}"
    for field in ("params", "macs"):
        assert positive_int(ref.get("cifar", {}).get(field)), f"{name}: reference.cifar.{field} missing"
    assert ref.get("paper"), f"{name}: the paper's own numbers (with their sources) are not recorded"


@pytest.mark.parametrize("name", NAMES)
def test_a_complete_cpu_run_of_the_cifar_network_is_recorded(name):
    data = load(name)
    runs = data.get("runs", [])
    for run in runs:
        try:
            Record.from_dict(run)                          # every field of the schema is there
        except ValueError as e:
            pytest.fail(f"{name}: {e}")
        assert run["budget"] in ("cpu", "full"), f"{name}: a {run['budget']!r} run was recorded"
        assert 0.0 <= run["final_test_acc"] <= 1.0 and 0.0 <= run["best_test_acc"] <= 1.0
        for field in ("epochs", "train_images", "test_images", "batch_size"):
            assert positive_int(run[field]), f"{name}: run {run['run']!r}: {field} = {run[field]!r}"
        assert run["wall_seconds"] > 0 and run["device"] and run["data_source"]
    cifar_params = data.get("reference", {}).get("cifar", {}).get("params")
    cpu_runs = [r for r in runs if r["budget"] == "cpu" and r["params"] == cifar_params]
    assert cpu_runs, (f"{name}: no cpu-budget run of the CIFAR-10 network ({cifar_params} parameters) "
                      f"is recorded; runs: {[(r['run'], r['budget'], r['params']) for r in runs]}")


# --- utils.results itself -------------------------------------------------------------------------

def test_shown_never_prints_an_absolute_path(tmp_path, monkeypatch):
    from utils import results
    monkeypatch.setenv("CNN_RESULTS_DIR", str(tmp_path / "res"))
    monkeypatch.delenv("CNN_CHECKPOINT_DIR", raising=False)
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "cifar"))
    assert results.shown(tmp_path / "cifar") == "$CIFAR10_DIR"
    assert results.shown(tmp_path / "res" / "vgg.json") == "$CNN_RESULTS_DIR/vgg.json"
    assert results.shown(ROOT / "results" / "vgg.json") == "results/vgg.json"
    assert results.shown(ROOT.parent / "shared" / "data" / "x.tar.gz") == "../shared/data/x.tar.gz"
    assert results.shown(results.checkpoint_path("c", "r", "quick")).startswith(
        "<temporary folder>/")
    assert results.shown(Path("/nowhere/known/file.pt")) == "file.pt"


def test_a_record_round_trips_and_names_what_it_lacks(tmp_path, monkeypatch):
    from utils import results
    monkeypatch.setenv("CNN_RESULTS_DIR", str(tmp_path))
    stored = json.loads((ROOT / "results" / "alexnet.json").read_text(encoding="utf-8"))["runs"][0]
    rec = Record.from_dict(stored)
    assert rec.to_dict() == stored and list(rec.to_dict()) == list(stored)   # the same, in order
    path = results.append_record("alexnet", rec)
    assert json.loads(path.read_text(encoding="utf-8"))["runs"] == [stored]
    with pytest.raises(ValueError, match="lacks macs, macs_counted_by"):
        Record.from_dict({k: v for k, v in stored.items() if k not in ("macs", "macs_counted_by")})
    assert not list(tmp_path.glob(".*.tmp"))                            # written atomically
