"""utils.train: budgets, the training loop on real data, checkpoints and resuming, results records.

Every test points CNN_CHECKPOINT_DIR and CNN_RESULTS_DIR at its own temporary folder and sets
CNN_BUDGET itself. The data is the real CIFAR-10 (the offline JPEG copy here, the official
download elsewhere), loaded once per module from the loader's cache.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from utils import data as data_mod
from utils import hardware, train

ROOT = Path(__file__).resolve().parent.parent

# A budget small enough for mechanics tests: 1,000 training and 500 test images, 2 epochs.
TINY = dict(epochs=2, train_size=1_000, test_size=500, batch_size=100)


def tiny_cnn() -> nn.Module:
    """A small CNN with every kind of parameter: conv weights, biases, BatchNorm, linear."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(4),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Dropout(0.1), nn.Linear(16, 10))


def small_cnn() -> nn.Module:
    """Three conv-BN-ReLU-pool stages (16, 32, 64 channels): about 24,000 parameters."""
    torch.manual_seed(0)

    def stage(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True), nn.MaxPool2d(2)]

    return nn.Sequential(*stage(3, 16), *stage(16, 32), *stage(32, 64),
                         nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 10))


@pytest.fixture(scope="module")
def cifar():
    return data_mod.load_cifar10()


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    ck, res = tmp_path / "checkpoints", tmp_path / "results"
    monkeypatch.setenv("CNN_CHECKPOINT_DIR", str(ck))
    monkeypatch.setenv("CNN_RESULTS_DIR", str(res))
    monkeypatch.setenv("CNN_BUDGET", "quick")
    return ck, res


# --- budgets -------------------------------------------------------------------------------------

def test_budget_follows_the_environment_variable(monkeypatch, capsys):
    for name in ("quick", "cpu", "full"):
        monkeypatch.setenv("CNN_BUDGET", name)
        b = train.get_budget(full=dict(epochs=30), cpu=dict(epochs=4), quick=dict(epochs=1))
        assert b.name == name
        assert b.epochs == {"full": 30, "cpu": 4, "quick": 1}[name]
        line = capsys.readouterr().out
        assert line.count("\n") == 1 and f"Budget '{name}'" in line
    monkeypatch.setenv("CNN_BUDGET", "quick")
    b = train.get_budget()
    assert b.train_size <= 5_000 and b.test_size <= 2_000 and b.epochs <= 2


def test_budget_without_variable_picks_by_hardware(monkeypatch, capsys):
    monkeypatch.delenv("CNN_BUDGET", raising=False)
    monkeypatch.delenv("CNN_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    b = train.get_budget()
    out = capsys.readouterr().out
    assert b.name == "cpu" and b.train_size is not None and b.train_size < 50_000
    assert "no GPU" in out and "Colab" in out and "CNN_BUDGET=full" in out
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla T4")
    b = train.get_budget(full=dict(epochs=12))
    assert b.name == "full" and b.epochs == 12 and b.train_size is None


def test_cnn_device_chooses_the_device_and_the_budget(monkeypatch, capsys):
    monkeypatch.delenv("CNN_BUDGET", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla T4")
    monkeypatch.setenv("CNN_DEVICE", "cpu")             # a GPU machine, told to use its CPU
    assert hardware.device().type == "cpu" and train.get_budget().name == "cpu"
    monkeypatch.setenv("CNN_DEVICE", "cuda")
    assert hardware.device().type == "cuda" and train.get_budget().name == "full"
    monkeypatch.setenv("CNN_DEVICE", "tpu")
    with pytest.raises(ValueError, match="CNN_DEVICE='tpu' is not a device: use cpu or cuda"):
        hardware.device()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CNN_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CNN_DEVICE=cuda, but torch sees no CUDA GPU"):
        hardware.device()


def test_budget_rejects_bad_input(monkeypatch):
    monkeypatch.setenv("CNN_BUDGET", "fast")
    with pytest.raises(ValueError, match="CNN_BUDGET='fast'.*quick, cpu, full"):
        train.get_budget()
    monkeypatch.setenv("CNN_BUDGET", "cpu")
    with pytest.raises(TypeError, match="unknown field 'epoch'"):
        train.get_budget(cpu=dict(epoch=3))
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        train.get_budget(cpu=dict(epochs=0))


# --- optimiser -----------------------------------------------------------------------------------

def test_weight_decay_skips_norms_and_biases():
    m = tiny_cnn()
    opt = train.make_optimizer(m, "sgd", weight_decay=5e-4, batch_size=256)
    decay = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    no_decay = {id(p) for g in opt.param_groups if g["weight_decay"] == 0 for p in g["params"]}
    conv1, bn, conv2, lin = m[0], m[1], m[4], m[9]
    assert decay == {id(conv1.weight), id(conv2.weight), id(lin.weight)}
    assert no_decay == {id(conv1.bias), id(bn.weight), id(bn.bias), id(conv2.bias), id(lin.bias)}
    assert opt.param_groups[0]["nesterov"] and opt.param_groups[0]["lr"] == pytest.approx(0.1)
    adamw = train.make_optimizer(m, "adamw", lr=3e-3, weight_decay=0.05)
    assert isinstance(adamw, torch.optim.AdamW)
    assert sorted(g["weight_decay"] for g in adamw.param_groups) == [0.0, 0.05]
    with pytest.raises(ValueError, match="'sgd' or 'adamw'"):
        train.make_optimizer(m, "adam")


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_schedule_warms_up_linearly_to_the_peak(schedule):
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.4)
    sched = train.make_schedule(opt, schedule, total_steps=100, warmup=0.2)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] < 0.05 and max(lrs) == pytest.approx(0.4, rel=0.02)
    rise = lrs[:20]
    assert all(b > a for a, b in zip(rise, rise[1:]))                      # warm-up rises...
    steps = [b - a for a, b in zip(rise, rise[1:])]
    assert max(steps) - min(steps) < 1e-3                                 # ...linearly
    if schedule == "constant":
        assert lrs[-1] == pytest.approx(0.4)
    else:
        assert lrs[-1] < 0.02                                             # anneals to ~0


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_schedule_handles_runs_of_a_few_steps(schedule):
    for total in range(1, 7):
        opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.4)
        sched = train.make_schedule(opt, schedule, total_steps=total, warmup=0.2)
        for _ in range(total):
            assert 0 < opt.param_groups[0]["lr"] <= 0.4
            opt.step()
            sched.step()
    with pytest.raises(ValueError, match="no batch"):
        train.make_schedule(opt, schedule, total_steps=0, warmup=0.2)
    if schedule == "constant":                                            # warmup=0: none
        opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.02)
        sched = train.make_schedule(opt, schedule, total_steps=5, warmup=0.0)
        assert opt.param_groups[0]["lr"] == 0.02


# --- the loop on real data ----------------------------------------------------------------------

def test_small_cnn_learns_cifar10(cifar, dirs, capsys):
    """About a minute on 2 CPU cores: data, labels, augmentation and the loop together."""
    budget = train.get_budget(quick=dict(epochs=4, train_size=10_000, test_size=2_000,
                                         batch_size=64))
    h = train.fit(small_cnn(), cifar, budget, run="learns", chapter="test", label_smoothing=0.1,
                  checkpoint=False)
    out = capsys.readouterr().out
    print(out, file=sys.stderr)
    assert h.final_acc >= 0.45, out                                       # chance is 10%
    assert len(h.epochs) == 4 and h.epochs[-1]["train_loss"] < h.epochs[0]["train_loss"]
    ev = h.evaluation
    assert ev.confusion.sum() == 2_000 and ev.accuracy == pytest.approx(h.final_acc)
    assert torch.allclose(ev.per_class.mean(), torch.tensor(ev.accuracy), atol=1e-6)  # balanced
    assert "offline JPEG copy" in out or "official" in out                 # data source said
    assert "budget 'quick'" in out and "10,000 training images" in out


def test_evaluate_matches_fit_and_flip_tta(cifar, dirs):
    budget = train.get_budget(quick=TINY, verbose=False)
    m = tiny_cnn()
    h = train.fit(m, cifar, budget, run="eval", chapter="test", checkpoint=False)
    ev = train.evaluate(m, cifar, budget)
    assert ev.accuracy == pytest.approx(h.final_acc)
    assert ev.confusion.shape == (10, 10) and int(ev.confusion.sum()) == 500
    assert ev.images.shape == (500, 3, 32, 32) and ev.images.dtype == torch.uint8
    assert (ev.predictions == ev.labels).float().mean().item() == pytest.approx(ev.accuracy)
    assert ev.confusion.sum(1).tolist() == [50] * 10                      # rows: true classes
    assert ev.confusion.sum(0).tolist() == torch.bincount(ev.predictions, minlength=10).tolist()
    tta = train.evaluate(m, cifar, budget, tta=True)
    assert tta.tta and tta.confusion.sum() == 500 and "all" in tta.table()
    sub = data_mod.subset(cifar, n_train=10, n_test=300)
    loader = data_mod.DeviceLoader(sub.test_images, sub.test_labels, 128, train=False)
    assert int(train.evaluate(m, cifar, loader).confusion.sum()) == 300    # any loader


class WithAux(nn.Module):
    """Returns (logits, auxiliary logits) in training, as GoogLeNet does; logits in eval."""

    def __init__(self):
        super().__init__()
        self.body, self.aux = tiny_cnn(), nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                                       nn.Linear(3, 10))

    def forward(self, x):
        return (self.body(x), self.aux(x)) if self.training else self.body(x)


def test_custom_criterion_and_tuple_outputs(cifar, dirs):
    seen = []

    def with_aux(out, y):
        seen.append(len(out))
        ce = nn.functional.cross_entropy
        return ce(out[0], y) + 0.3 * ce(out[1], y)

    budget = train.get_budget(quick=dict(TINY, epochs=1), verbose=False)
    h = train.fit(WithAux(), cifar, budget, run="aux", chapter="test", criterion=with_aux,
                  checkpoint=False)
    assert seen and set(seen) == {2} and len(h.epochs) == 1
    assert 0 <= h.epochs[0]["train_acc"] <= 1


# --- recipes -------------------------------------------------------------------------------------

def test_fit_checks_its_recipe_before_training(cifar, dirs):
    budget = train.get_budget(quick=dict(TINY, epochs=1), verbose=False)
    with pytest.raises(TypeError, match="unexpected keyword argument 'lrr'"):
        train.fit(tiny_cnn(), cifar, budget, run="kw", chapter="test", lrr=0.1)
    with pytest.raises(TypeError, match="Recipe"):
        train.fit(tiny_cnn(), cifar, budget, "kw", run="kw", chapter="test")
    with pytest.raises(ValueError, match="warmup"):
        train.fit(tiny_cnn(), cifar, budget, train.Recipe(), run="kw", chapter="test", warmup=1.5)


def test_recipe_aux_weights_train_a_model_with_auxiliary_outputs(cifar, dirs):
    budget = train.get_budget(quick=dict(TINY, epochs=1), verbose=False)
    h = train.fit(WithAux(), cifar, budget, train.Recipe(aux_weights=(0.3,)), run="aux-recipe",
                  chapter="test", checkpoint=False)
    assert len(h.epochs) == 1 and 0 < h.epochs[0]["train_loss"] < 10


def test_recipe_is_stored_in_the_record_and_the_checkpoint(cifar, dirs, monkeypatch, capsys):
    """TensorFlow's RMSProp, an exponential schedule and a moving average, end to end."""
    ck, res = dirs
    monkeypatch.setenv("CNN_BUDGET", "cpu")
    budget = train.get_budget(cpu=dict(TINY, epochs=1), verbose=False)
    recipe = train.Recipe(optimizer="rmsprop", schedule="exponential", decay_epochs=0.5,
                          label_smoothing=0.1, ema=0.9)
    m = tiny_cnn()
    h = train.fit(m, cifar, budget, recipe, run="recipe", chapter="test")
    assert "rmsprop peak lr 0.00625, exponential" in capsys.readouterr().out  # 0.016 per 256
    stored = recipe.resolved(budget.batch_size).to_dict()
    rec = json.loads((res / "test.json").read_text())["runs"][0]
    assert {k: rec["recipe"][k] for k in stored} == stored
    assert train.Record.from_dict(rec).recipe == rec["recipe"]
    ckpt = torch.load(ck / "test-recipe-cpu.pt", weights_only=True)
    assert ckpt["config"] == rec["recipe"] and "ema" in ckpt
    # The moving average is what was evaluated, and the model ends with its weights.
    assert torch.equal(m[0].weight.detach(), ckpt["ema"]["module.0.weight"])
    assert not torch.equal(m[0].weight.detach(), ckpt["model"]["0.weight"])
    assert train.evaluate(m, cifar, budget).accuracy == pytest.approx(h.final_acc)


def test_a_different_recipe_never_resumes(cifar, dirs, capsys):
    ck, _ = dirs
    budget = train.get_budget(quick=dict(TINY, epochs=1), verbose=False)
    train.fit(tiny_cnn(), cifar, budget, run="recipe", chapter="test")    # the keyword form
    path = ck / "test-recipe-quick.pt"
    assert torch.load(path, weights_only=True)["config"]["nesterov"] is True  # as it always was
    capsys.readouterr()
    plain = train.Recipe()                                                # plain momentum
    h = train.fit(tiny_cnn(), cifar, budget, plain, run="recipe", chapter="test")
    out = capsys.readouterr().out
    assert "different recipe" in out and "already finished" not in out and h.resumed_from is None
    assert (ck / "test-recipe-quick.pt.old").exists()
    train.fit(tiny_cnn(), cifar, budget, plain, run="recipe", chapter="test")
    assert "already finished" in capsys.readouterr().out                 # the same recipe
    train.fit(tiny_cnn(), cifar, budget, plain, run="recipe", chapter="test", lr=0.05)
    assert "different recipe" in capsys.readouterr().out                 # a keyword overrides


# --- checkpoints --------------------------------------------------------------------------------

KILLED_RUN = """
import os, sys, torch
sys.path[:0] = [{root!r}, {tests!r}]
from utils import data, train
from test_train import tiny_cnn, TINY
budget = train.get_budget(quick=TINY)
def killed(history):  # the machine goes away right after epoch 1's checkpoint: no clean-up
    if len(history.epochs) == 1:
        os._exit(17)
train.fit(tiny_cnn(), data.load_cifar10(), budget, run="resume", chapter="test",
          on_epoch=killed)
"""


def test_killed_run_resumes_at_epoch_2_and_matches_an_uninterrupted_run(cifar, dirs, capsys):
    ck, _ = dirs
    script = KILLED_RUN.format(root=str(ROOT), tests=str(ROOT / "tests"))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)
    assert proc.returncode == 17, proc.stdout + proc.stderr
    assert "epoch 1/2" in proc.stdout and "epoch 2/2" not in proc.stdout
    assert (ck / "test-resume-quick.pt").exists()

    budget = train.get_budget(quick=TINY, verbose=False)
    resumed_model = tiny_cnn()
    h = train.fit(resumed_model, cifar, budget, run="resume", chapter="test")
    out = capsys.readouterr().out
    assert "resuming from epoch 2 of 2 (checkpoint $CNN_CHECKPOINT_DIR/test-resume-quick.pt)" in out
    assert [e["epoch"] for e in h.epochs] == [1, 2] and h.resumed_from == 1 and h.finished
    assert str(ck) not in out and str(ROOT) not in out                    # no machine paths

    # The same run without the interruption ends with the same weights: nothing was lost.
    whole_model = tiny_cnn()
    whole = train.fit(whole_model, cifar, budget, run="whole", chapter="test")
    assert whole.resumed_from is None
    for (k, a), b in zip(resumed_model.state_dict().items(), whole_model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), k
    assert h.final_acc == pytest.approx(whole.final_acc)

    # Run again: the finished run is reported from its checkpoint, not trained again.
    again_model = tiny_cnn()
    again = train.fit(again_model, cifar, budget, run="resume", chapter="test")
    assert "already finished" in capsys.readouterr().out
    assert again.final_acc == pytest.approx(h.final_acc)
    assert torch.equal(again_model[0].weight, resumed_model[0].weight)


def test_truncated_checkpoint_is_detected_and_set_aside(cifar, dirs, capsys):
    ck, _ = dirs
    budget = train.get_budget(quick=dict(TINY, epochs=1), verbose=False)
    train.fit(tiny_cnn(), cifar, budget, run="cut", chapter="test")
    path = ck / "test-cut-quick.pt"
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])                               # a half-written file
    capsys.readouterr()
    h = train.fit(tiny_cnn(), cifar, budget, run="cut", chapter="test")
    out = capsys.readouterr().out
    assert "unreadable" in out and "training from the start" in out
    assert (ck / "test-cut-quick.pt.corrupt").read_bytes() == blob[: len(blob) // 2]  # kept
    assert h.resumed_from is None and len(h.epochs) == 1
    assert train.load_checkpoint(path) is not None                         # a good one again


def test_checkpoint_of_another_budget_or_model_is_not_used(cifar, dirs, capsys):
    ck, _ = dirs
    b1 = train.get_budget(quick=dict(TINY, epochs=1), verbose=False)
    train.fit(tiny_cnn(), cifar, b1, run="mix", chapter="test")
    b2 = train.get_budget(quick=dict(TINY, epochs=1, batch_size=50), verbose=False)
    h = train.fit(tiny_cnn(), cifar, b2, run="mix", chapter="test")
    assert "different budget" in capsys.readouterr().out and h.resumed_from is None
    wider = nn.Sequential(nn.Conv2d(3, 12, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(12, 10))
    train.fit(wider, cifar, b2, run="mix", chapter="test")
    assert "different model" in capsys.readouterr().out
    assert (ck / "test-mix-quick.pt.old").exists()


# --- results records ------------------------------------------------------------------------------

RECORD_FIELDS = {"run", "budget", "device", "torch", "date", "epochs", "train_images",
                 "test_images", "batch_size", "best_test_acc", "final_test_acc", "wall_seconds",
                 "images_per_s", "params", "macs", "data_source"}


def test_quick_runs_never_write_results(cifar, dirs):
    _, res = dirs
    budget = train.get_budget(quick=dict(TINY, epochs=1), verbose=False)
    train.fit(tiny_cnn(), cifar, budget, run="q", chapter="test", record=True)
    train.record_reference("test", imagenet=dict(params=1, macs=2))
    assert not res.exists() or not any(res.iterdir())


def test_cpu_run_writes_one_complete_record(cifar, dirs, monkeypatch, capsys):
    _, res = dirs
    monkeypatch.setenv("CNN_BUDGET", "cpu")
    budget = train.get_budget(cpu=dict(TINY, epochs=1))
    m = tiny_cnn()
    h = train.fit(m, cifar, budget, run="rec", chapter="test", extra=dict(activation="relu"))
    path = res / "test.json"
    stored = json.loads(path.read_text())
    assert stored["chapter"] == "test" and len(stored["runs"]) == 1
    rec = stored["runs"][0]
    assert RECORD_FIELDS <= set(rec), RECORD_FIELDS - set(rec)
    assert rec["budget"] == "cpu" and rec["epochs"] == 1 and rec["train_images"] == 1_000
    assert rec["test_images"] == 500 and rec["batch_size"] == 100
    assert rec["params"] == sum(p.numel() for p in m.parameters()) and rec["macs"] > 0
    assert rec["final_test_acc"] == pytest.approx(h.final_acc, abs=1e-4)
    assert rec["extra"] == {"activation": "relu"} and "offline JPEG" in rec["data_source"]
    assert "result recorded in $CNN_RESULTS_DIR/test.json" in capsys.readouterr().out
    # Running the finished cell again reports from the checkpoint and adds no second record.
    train.fit(tiny_cnn(), cifar, budget, run="rec", chapter="test")
    assert len(json.loads(path.read_text())["runs"]) == 1


def test_record_reference_is_idempotent_and_keeps_runs(dirs, monkeypatch, capsys):
    _, res = dirs
    monkeypatch.setenv("CNN_BUDGET", "cpu")
    paper = dict(top5_error=15.3, params=60_000_000, source="Table 2")
    train.record_reference("ref", imagenet=dict(params=60_965_224, macs=723_000_000), paper=paper)
    path = res / "ref.json"
    first = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    train.record_reference("ref", imagenet=dict(params=60_965_224, macs=723_000_000), paper=paper)
    assert path.read_bytes() == first and path.stat().st_mtime_ns == mtime
    assert capsys.readouterr().out == ""                        # the same output under any budget
    stored = json.loads(first)
    assert stored["reference"]["paper"]["source"] == "Table 2"
    assert list(stored) == ["chapter", "reference", "runs"]                # stable order
    with pytest.raises(TypeError, match="cannot be stored"):
        train.record_reference("ref", paper=dict(model=nn.Linear(1, 1)))


def test_unreadable_results_file_is_set_aside_not_overwritten(dirs, monkeypatch, capsys):
    _, res = dirs
    monkeypatch.setenv("CNN_BUDGET", "cpu")
    res.mkdir(parents=True)
    (res / "bad.json").write_text("{ not json")
    train.record_reference("bad", paper=dict(top1_error=37.5, source="Table 1"))
    assert (res / "bad.json.corrupt").read_text() == "{ not json"
    assert json.loads((res / "bad.json").read_text())["reference"]["paper"]["top1_error"] == 37.5
    assert "set aside" in capsys.readouterr().out                  # said, and nothing lost


def test_history_round_trips_through_plain_values():
    b = train.Budget("cpu", 2, 100, 50, 10, "note")
    h = train.History(run="r", chapter="c", budget=b, device_name="CPU (2 threads)",
                      epochs=[{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "test_loss": 1.1,
                               "test_acc": 0.4, "seconds": 2.0, "train_seconds": 1.5,
                               "images": 100, "images_per_s": 66.7}])
    d = h.to_dict()
    json.dumps(d)                                                          # plain values only
    back = train.History.from_dict(d)
    assert back.budget == b and back.best_acc == 0.4 and "40.0%" in back.line()


# --- runs a student can trust ----------------------------------------------------------------------

def tanh_cnn() -> nn.Module:
    """``tiny_cnn`` with tanh for ReLU: the same parameter count, another network."""
    m = tiny_cnn()
    m[2] = nn.Tanh()
    return m


class FunctionalNet(nn.Module):
    """A network whose non-linearity is in ``forward``, where the module list does not show it."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.fc = nn.Conv2d(3, 8, 3, padding=1), nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


class FunctionalTanhNet(FunctionalNet):
    def forward(self, x):
        return self.fc(torch.tanh(self.conv(x)).mean((2, 3)))


def test_fingerprint_tells_edits_that_keep_the_parameter_count():
    base = train.model_fingerprint(tiny_cnn())
    assert train.model_fingerprint(tiny_cnn()) == base                 # same network, same print
    no_dropout = tiny_cnn()
    no_dropout[8] = nn.Identity()
    for other in (tanh_cnn(), no_dropout):
        assert sum(p.numel() for p in other.parameters()) == \
            sum(p.numel() for p in tiny_cnn().parameters())
        assert train.model_fingerprint(other) != base
    assert train.model_fingerprint(FunctionalNet()) != train.model_fingerprint(FunctionalTanhNet())


def test_edited_model_never_loads_the_old_checkpoint(cifar, dirs, capsys):
    ck, _ = dirs
    budget = train.get_budget(quick=dict(TINY, epochs=1), verbose=False)
    train.fit(tiny_cnn(), cifar, budget, run="edit", chapter="test")
    capsys.readouterr()
    edited = tanh_cnn()
    h = train.fit(edited, cifar, budget, run="edit", chapter="test")
    out = capsys.readouterr().out
    assert "already finished" not in out and h.resumed_from is None and len(h.epochs) == 1
    assert "different model" in out and "training from the start" in out
    assert (ck / "test-edit-quick.pt.old").exists()                       # kept, never loaded
    assert isinstance(edited[2], nn.Tanh)


def test_resume_false_starts_afresh(cifar, dirs, capsys):
    ck, _ = dirs
    budget = train.get_budget(quick=dict(TINY, epochs=1), verbose=False)
    train.fit(tiny_cnn(), cifar, budget, run="again", chapter="test")
    capsys.readouterr()
    h = train.fit(tiny_cnn(), cifar, budget, run="again", chapter="test", resume=False)
    out = capsys.readouterr().out
    assert "already finished" not in out and "starting afresh" in out
    assert h.resumed_from is None and (ck / "test-again-quick.pt.old").exists()


def test_checkpoint_that_does_not_load_is_explained(cifar, dirs, capsys):
    ck, _ = dirs
    budget = train.get_budget(quick=dict(TINY, epochs=1), verbose=False)
    train.fit(tiny_cnn(), cifar, budget, run="keys", chapter="test")
    path = ck / "test-keys-quick.pt"
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"]["extra.weight"] = torch.zeros(1)          # same fingerprint, keys that differ
    torch.save(ckpt, path)
    capsys.readouterr()
    h = train.fit(tiny_cnn(), cifar, budget, run="keys", chapter="test")
    out = capsys.readouterr().out
    assert "does not load into this model" in out and "extra.weight" in out
    assert h.resumed_from is None and (ck / "test-keys-quick.pt.mismatch").exists()


def test_divergence_stops_the_run_and_records_nothing(cifar, dirs, monkeypatch):
    ck, res = dirs
    monkeypatch.setenv("CNN_BUDGET", "cpu")
    budget = train.get_budget(cpu=dict(TINY, epochs=2), verbose=False)
    with pytest.raises(train.Diverged) as err:
        train.fit(tiny_cnn(), cifar, budget, run="hot", chapter="test", lr=1e6, warmup=0)
    message = str(err.value)
    for words in ("diverged", "epoch 1", "step", "learning rate", "smaller peak learning rate",
                  "no results record"):
        assert words in message, (words, message)
    assert not (res / "test.json").exists()
    assert not (ck / "test-hot-cpu.pt").exists()


def test_checkpoint_holding_nan_is_refused(cifar, dirs, capsys):
    ck, _ = dirs
    budget = train.get_budget(quick=dict(TINY, epochs=2), verbose=False)
    train.fit(tiny_cnn(), cifar, budget, run="nan", chapter="test")
    path = ck / "test-nan-quick.pt"
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"]["0.weight"].fill_(float("nan"))
    ckpt["finished"], ckpt["epoch"] = False, 1
    torch.save(ckpt, path)
    capsys.readouterr()
    h = train.fit(tiny_cnn(), cifar, budget, run="nan", chapter="test")
    out = capsys.readouterr().out
    assert "NaN" in out and (ck / "test-nan-quick.pt.nan").exists()
    assert h.resumed_from is None and len(h.epochs) == 2 and h.final_acc > 0.1


def test_quick_runs_leave_the_repository_alone(cifar, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("CNN_CHECKPOINT_DIR", raising=False)
    monkeypatch.setenv("CNN_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("CNN_BUDGET", "quick")
    before = sorted((ROOT / "checkpoints").glob("test-repo-*")) if (ROOT / "checkpoints").exists() \
        else []
    budget = train.get_budget(quick=dict(TINY, epochs=1), verbose=False)
    path = train.checkpoint_path("test", "repo", budget)
    assert ROOT.resolve() not in path.resolve().parents
    train.fit(tiny_cnn(), cifar, budget, run="repo", chapter="test", fresh=True)
    assert path.exists()
    after = sorted((ROOT / "checkpoints").glob("test-repo-*")) if (ROOT / "checkpoints").exists() \
        else []
    assert after == before
    assert "<temporary folder>/" in train.shown(path) and str(tmp_path) not in capsys.readouterr().out
    path.unlink()


def test_unreadable_checkpoint_message_is_whole_and_stale_temporaries_go(dirs, capsys):
    ck, _ = dirs
    ck.mkdir(parents=True)
    path = ck / "test-words-quick.pt"
    path.write_bytes(b"not a checkpoint " * 50)
    stale = ck / ".test-words-quick.pt.abc123.tmp"                # left by a kill -9 mid-write
    stale.write_bytes(b"half")
    assert train.load_checkpoint(path) is None
    line = capsys.readouterr().out.strip()
    assert line.count("); set aside") == 1 and "unreadable" in line
    assert not stale.exists()


def test_long_error_messages_are_shortened_at_a_word_boundary(tmp_path):
    """The reason shown for an unusable checkpoint keeps whole words, on one line."""
    from utils import results
    words = [f"word{i:03d}xyz" for i in range(60)]                 # 660 characters of words
    message = " ".join(words[:30]) + "\n" + " ".join(words[30:])
    short = results.one_line(message, tmp_path / "x.pt", width=100)
    assert short.endswith(" …") and len(short) <= 100 and "\n" not in short
    assert all(w in words for w in short[:-2].split())               # no word cut in the middle

