"""scripts/run_chapters.py and scripts/gpu_full_runs.sh, on tiny fake chapters (a few seconds each).

The fake notebooks print ``$CNN_BUDGET`` and nothing else of weight, so every test starts a
kernel for a second or two; the real chapters are never executed here.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "scripts" / "run_chapters.py"
GPU_SCRIPT = ROOT / "scripts" / "gpu_full_runs.sh"

spec = importlib.util.spec_from_file_location("run_chapters", RUNNER)
rc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rc)


def fake_chapter(folder: Path, stem: str, *sources: str) -> Path:
    """A markdown title and one code cell per source; the first carries stale timing metadata."""
    cells = [new_markdown_cell(f"# {stem}")] + [new_code_cell(s) for s in sources]
    cells[1].metadata["execution"] = {"iopub.execute_input": "2020-01-01T00:00:00Z"}
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(rc.DEFAULT_KERNELSPEC)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.ipynb"
    nbformat.write(nb, path)
    return path


GOOD = ("import os\nprint('budget', os.environ['CNN_BUDGET'])",
        "r, c = os.environ['CNN_RESULTS_DIR'], os.environ['CNN_CHECKPOINT_DIR']\n"
        "assert 'run-chapters-' in r and 'run-chapters-' in c  # quick: temporary folders",
        "6 * 7")


def code_cells(path: Path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, str(RUNNER), *map(str, args)], capture_output=True,
                          text=True, timeout=120, **kwargs)


# --- the runner ---------------------------------------------------------------------------------

def test_quick_run_executes_in_place_in_order(tmp_path, capsys):
    folder = tmp_path / "chapters"
    paths = [fake_chapter(folder, "00_alpha", *GOOD), fake_chapter(folder, "01_beta", *GOOD)]
    assert rc.main(["--budget", "quick", "--chapters-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "[1/2] 00_alpha: ok in " in out and "[2/2] 01_beta: ok in " in out
    assert "(3 code cells, budget quick)" in out
    assert "chapter   budget  status  wall time  code cells" in out     # the summary table
    assert "nbcheck" in out
    for path in paths:
        cells = code_cells(path)
        assert [c.execution_count for c in cells] == [1, 2, 3]
        assert cells[0].outputs[0].text == "budget quick\n"
        assert cells[2].outputs[0].data["text/plain"] == "42"
        assert all("execution" not in c.metadata for c in cells)     # no timestamps, old or new
        meta = nbformat.read(path, as_version=4).metadata
        assert set(meta) == {"kernelspec", "language_info"}           # no widget state added
        assert meta.kernelspec.name == "python3" and meta.language_info.name == "python"
    assert not list(folder.glob(".*.tmp"))


def test_failing_cell_stops_the_run_and_leaves_the_notebook(tmp_path):
    folder = tmp_path / "chapters"
    fake_chapter(folder, "00_alpha", *GOOD)
    bad = fake_chapter(folder, "01_beta", "x = 1", "raise ValueError('boom')", "print('never')")
    later = fake_chapter(folder, "02_gamma", *GOOD)
    before, before_later = bad.read_bytes(), later.read_bytes()
    proc = run_cli("--budget", "quick", "--chapters-dir", folder)
    assert proc.returncode == 1
    assert "[2/3] 01_beta: FAILED after" in proc.stdout
    assert "01_beta, cell 2 (In [2]): raise ValueError('boom')" in proc.stderr
    assert "ValueError: boom" in proc.stderr
    assert bad.read_bytes() == before                 # the failed run was not written
    assert later.read_bytes() == before_later and "02_gamma" not in proc.stdout  # and it stopped
    assert code_cells(folder / "00_alpha.ipynb")[0].execution_count == 1


def test_machine_path_in_an_output_fails_naming_the_cell(tmp_path, capsys):
    folder = tmp_path / "chapters"
    path = fake_chapter(folder, "00_alpha", "import os", "print('working in', os.getcwd())")
    before = path.read_bytes()
    assert rc.main(["--budget", "quick", "--chapters-dir", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "00_alpha, cell 2 (In [2]): print('working in', os.getcwd())" in err
    assert "path of this machine" in err and "not written" in err
    assert path.read_bytes() == before


def test_out_writes_notebooks_results_and_timings_there(tmp_path, capsys):
    folder, out = tmp_path / "chapters", tmp_path / "out"
    alpha = fake_chapter(folder, "00_alpha", GOOD[0], GOOD[2])
    beta = fake_chapter(folder, "01_beta", GOOD[0], "import os\n"
                        "assert os.environ['CNN_RESULTS_DIR'].endswith(os.path.join('out', 'results'))")
    before = alpha.read_bytes(), beta.read_bytes()
    assert rc.main(["--budget", "quick", "--chapters-dir", str(folder), "--out", str(out), "1"]) == 0
    assert (alpha.read_bytes(), beta.read_bytes()) == before          # nothing in place
    assert [c.execution_count for c in code_cells(out / "chapters" / "01_beta.ipynb")] == [1, 2]
    assert not (out / "chapters" / "00_alpha.ipynb").exists()
    assert sorted(p.name for p in (out / "results").glob("*.json")) == \
        sorted(p.name for p in Path(os.environ.get("CNN_RESULTS_DIR", ROOT / "results")).glob("*.json"))
    runs = json.loads((out / "timings.json").read_text())["runs"]
    assert [(r["chapter"], r["budget"], r["status"]) for r in runs] == [("01_beta", "quick", "ok")]
    assert runs[0]["wall_seconds"] > 0 and runs[0]["torch"] and runs[0]["device"]
    assert str(tmp_path) not in (out / "timings.json").read_text()


def test_chapters_by_number_name_or_stem_in_book_order():
    chapters = [Path(f"chapters/{s}.ipynb") for s in ("00_lenet5", "01_alexnet", "03_nin", "10_resnext")]
    for word in ("3", "03", "nin", "03_nin", "03_nin.ipynb", "chapters/03_nin.ipynb"):
        assert rc.select(chapters, [word]) == [chapters[2]], word
    assert rc.select(chapters, ["nin", "0", "10", "lenet5"]) == [chapters[0], chapters[2], chapters[3]]
    assert rc.select(chapters, []) == chapters
    with pytest.raises(ValueError, match="no chapter 'vgg'.*00_lenet5, 01_alexnet"):
        rc.select(chapters, ["vgg"])


def test_unknown_chapter_is_a_usage_error(tmp_path, capsys):
    fake_chapter(tmp_path, "00_alpha", "1")
    assert rc.main(["--budget", "quick", "--chapters-dir", str(tmp_path), "beta", "--plan"]) == 2
    assert "error: no chapter 'beta'; the chapters are 00_alpha" in capsys.readouterr().err


def write_results(folder: Path, name: str, *runs: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"chapter": name, "runs": list(runs)}))


def test_plan_puts_missing_full_runs_first_and_stops_when_time_runs_out(tmp_path, monkeypatch, capsys):
    folder, results = tmp_path / "chapters", tmp_path / "results"
    for stem in ("00_alpha", "01_beta", "02_gamma", "03_delta"):
        fake_chapter(folder, stem, "1")
    write_results(results, "alpha", dict(run="a", budget="full", epochs=10, train_images=50_000,
                                         images_per_s=5_000, wall_seconds=90.0))
    write_results(results, "gamma", dict(run="g", budget="cpu", wall_seconds=300.0))
    previous = tmp_path / "timings.json"
    previous.write_text(json.dumps({"runs": [
        dict(chapter="03_delta", budget="full", status="ok", wall_seconds=90.0),
        dict(chapter="01_beta", budget="full", status="failed", wall_seconds=5.0)]}))
    monkeypatch.setenv("CNN_RESULTS_DIR", str(results))
    assert rc.main(["--budget", "full", "--chapters-dir", str(folder), "--missing-first",
                    "--minutes", "11", "--previous", str(previous), "--plan"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if line[:3] in ("00_", "01_", "02_", "03_")]
    assert rows == ["01_beta", "02_gamma", "03_delta"]    # no full record first; alpha not reached
    assert "11 min 00 s available" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line[:3] in ("01_", "02_", "03_")}
    assert lines["01_beta"].split()[-1] == "run" and "unknown" in lines["01_beta"]
    assert lines["02_gamma"].split()[-1] == "run"          # 660 s, then 360 s left: both start
    assert "1 min 30 s" in lines["03_delta"] and lines["03_delta"].endswith("stop here")  # 60 s left
    assert "not reached: 00_alpha" in out
    # Estimates: a recorded run's training time plus a minute; an earlier notebook timing wins.
    chapters = rc.find_chapters(folder)
    assert rc.estimate(chapters[0], "full", results, {})[0] == 100.0 + rc.NOTEBOOK_OVERHEAD_S
    assert rc.estimate(chapters[3], "full", results, rc.previous_timings([previous]))[0] == 90.0
    assert rc.estimate(chapters[1], "full", results, rc.previous_timings([previous]))[0] is None
    assert rc.may_start(299, None) is False and rc.may_start(300, None) is True
    assert rc.may_start(100, 101) is False and rc.may_start(None, None) is True


def test_time_budget_stops_before_a_chapter_and_interrupts_a_running_one(tmp_path, capsys):
    folder = tmp_path / "chapters"
    path = fake_chapter(folder, "00_slow", "import time", "time.sleep(60)")
    before = path.read_bytes()
    # No estimate: it needs 5 minutes left to start.
    assert rc.main(["--budget", "quick", "--chapters-dir", str(folder), "--minutes", "1"]) == 3
    assert "00_slow: not started, estimate unknown (needs 5 min), " in capsys.readouterr().out
    # An estimate of 1 s from an earlier run: it starts, and its sleep is cut at the deadline.
    previous = tmp_path / "timings.json"
    previous.write_text(json.dumps({"runs": [
        dict(chapter="00_slow", budget="quick", status="ok", wall_seconds=1.0)]}))
    assert rc.main(["--budget", "quick", "--chapters-dir", str(folder), "--minutes", "0.1",
                    "--previous", str(previous)]) == 3
    captured = capsys.readouterr()
    assert "[1/1] 00_slow: out of time after" in captured.out
    assert "00_slow, cell 2 (In [2]): time.sleep(60)" in captured.err
    assert "the time budget (--minutes) ran out" in captured.err
    assert path.read_bytes() == before


def test_where_results_and_checkpoints_go(tmp_path, monkeypatch):
    monkeypatch.delenv("CNN_RESULTS_DIR", raising=False)
    monkeypatch.delenv("CNN_CHECKPOINT_DIR", raising=False)
    source, scratch = ROOT / "results", tmp_path / "scratch"

    def env_for(*argv):
        return rc.folders(rc.parse(["--budget", *argv]), source, scratch)[1]
    quick = env_for("quick")
    assert quick["CNN_BUDGET"] == "quick"
    assert quick["CNN_RESULTS_DIR"] == str(scratch / "results")       # a copy, never results/
    assert quick["CNN_CHECKPOINT_DIR"] == str(scratch / "checkpoints")
    assert (scratch / "results" / "lenet5.json").is_file()
    cpu = env_for("cpu")                                               # the repository's folders
    assert "CNN_RESULTS_DIR" not in cpu and "CNN_CHECKPOINT_DIR" not in cpu
    assert env_for("cpu", "--fresh")["CNN_CHECKPOINT_DIR"] == str(scratch / "checkpoints")
    full_out = env_for("full", "--out", str(tmp_path / "out"))
    assert full_out["CNN_RESULTS_DIR"] == str(tmp_path / "out" / "results")
    assert full_out["CNN_CHECKPOINT_DIR"] == str(scratch / "checkpoints")
    monkeypatch.setenv("CNN_CHECKPOINT_DIR", str(tmp_path / "mine"))
    assert env_for("full")["CNN_CHECKPOINT_DIR"] == str(tmp_path / "mine")   # as set
    # The leaderboard is regenerated only after cpu/full runs recorded in results/.
    calls = []
    monkeypatch.setattr(rc.subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    rc.leaderboard(rc.parse(["--budget", "quick"]), quick)
    rc.leaderboard(rc.parse(["--budget", "full", "--out", str(tmp_path)]), full_out)
    rc.leaderboard(rc.parse(["--budget", "cpu"]), {"CNN_RESULTS_DIR": str(tmp_path)})
    assert calls == []
    rc.leaderboard(rc.parse(["--budget", "cpu"]), cpu)
    assert calls and calls[0][-1].endswith("leaderboard.py")


def test_quick_timeout_and_empty_cells():
    assert rc.parse(["--budget", "quick"]).timeout == 600
    assert rc.parse(["--budget", "full"]).timeout == 0              # no limit
    nb = new_notebook(cells=[new_code_cell("1"), new_code_cell("  ")])
    with pytest.raises(rc.RunFailed, match="cell 1 is an empty code cell"):
        rc.check_before(nb, "00_x")


# --- the GPU script -----------------------------------------------------------------------------

def test_gpu_script_is_valid_bash_with_usage():
    assert subprocess.run(["bash", "-n", str(GPU_SCRIPT)]).returncode == 0
    usage = subprocess.run(["bash", str(GPU_SCRIPT), "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and "--minutes M" in usage.stdout and "--bundle" in usage.stdout


def test_gpu_script_stops_without_a_gpu(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    env = dict(os.environ, OUT=str(tmp_path / "out"))
    env.pop("GPU_RUNS_REHEARSAL", None)
    proc = subprocess.run(["bash", str(GPU_SCRIPT)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "MISSING a CUDA GPU" in proc.stdout and "nothing was run" in proc.stdout
    assert (tmp_path / "out" / "gpu_full_runs.log").is_file()
    assert not (tmp_path / "out" / "chapters").exists()


def test_gpu_script_rehearsal_on_fake_chapters(tmp_path):
    """The whole script on a copy of the repository with two fake chapters, the GPU check off."""
    shared, cache = ROOT.parent / "shared" / "data", Path.home() / ".cache" / "cnn-history"
    if not (shared / "cifar10-jpeg.tar.gz").is_file() and not (cache / "cifar10-uint8.pt").is_file():
        pytest.skip("no CIFAR-10 copy or cache on this machine")
    repo = tmp_path / "repo"
    for part in ("scripts", "utils", "results"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "requirements.txt", repo)
    if (shared / "cifar10-jpeg.tar.gz").is_file():
        (repo / "data").mkdir()
        (repo / "data" / "cifar10-jpeg.tar.gz").symlink_to(shared / "cifar10-jpeg.tar.gz")
    (repo / "benchmarks").mkdir()
    (repo / "benchmarks" / "bench_pipeline.py").write_text("print('bench: fake')\n")
    fake_chapter(repo / "chapters", "00_alpha", GOOD[0], GOOD[2])
    fake_chapter(repo / "chapters", "01_beta", GOOD[0])
    out = tmp_path / "out"
    env = dict(os.environ, OUT=str(out), GPU_RUNS_REHEARSAL="1")
    proc = subprocess.run(["bash", str(repo / "scripts" / "gpu_full_runs.sh"), "--minutes", "8",
                           "--bundle"], capture_output=True, text=True, env=env, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "CIFAR-10 source:" in log and "plan: budget full" in log
    assert "[1/2] 00_alpha: ok in" in log and "[2/2] 01_beta: ok in" in log
    assert sorted(p.name for p in out.iterdir()) == [
        "bench_pipeline.txt", "gpu-runs.tar.gz", "gpu_full_runs.log", "timings.json"]
    assert (out / "bench_pipeline.txt").read_text() == "bench: fake\n"
    listing = subprocess.run(["tar", "tzf", str(out / "gpu-runs.tar.gz")], capture_output=True,
                             text=True).stdout.split()
    assert {"chapters/00_alpha.ipynb", "chapters/01_beta.ipynb", "timings.json"} <= set(listing)
    runs = json.loads((out / "timings.json").read_text())["runs"]
    assert [(r["chapter"], r["budget"], r["status"]) for r in runs] == [
        ("00_alpha", "full", "ok"), ("01_beta", "full", "ok")]
