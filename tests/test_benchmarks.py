"""The benchmarks in benchmarks/: each runs in its ``--quick`` form, and part 2 of
``bench_pipeline.py`` summarises its rounds honestly (medians, paired ratios, ranges)."""

import importlib.util
import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_d2l_quick_trains_both_loops():
    if importlib.util.find_spec("d2l") is None:
        pytest.skip("d2l is not installed (pip install --no-deps d2l, as the README says)")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run([sys.executable, "benchmarks/bench_d2l.py", "--quick", "--threads", "1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    for expected in ("load average", "with 1 torch thread;", "data: CIFAR-10",
                     "D2L    epoch  1: test accuracy", "course epoch  1: test accuracy",
                     "quick: both loops ran one epoch"):
        assert expected in out, f"{expected!r} not in the output:\n{out}"
    # CPU time, not wall time: on a machine busy with other work the wall time says little.
    assert cpu < 60, f"--quick used {cpu:.0f} s of CPU time; it should need well under a minute"


def test_bench_d2l_lenet_is_chapter_0s_network():
    net = bench("bench_d2l").lenet5_cifar()
    assert sum(p.numel() for p in net.parameters()) == 61_106  # chapter 0's summary
    assert list(dict(net.named_children())) == [
        "C1", "relu1", "S2", "C3", "relu3", "S4", "C5", "relu5", "flatten", "F6", "relu6",
        "output"]


def test_bench_pipeline_training_table_gives_medians_and_paired_ratios():
    table = bench("bench_pipeline").training_table
    rates = {"classic": [10.0, 20.0, 10.0, 10.0, 10.0],
             "steady": [30.0, 60.0, 30.0, 30.0, 30.0],                 # 3x in every round
             "noisy": [9.0, 25.0, 11.0, 8.0, 30.0],                   # 0.8x to 3x
             "broken": ["failed (RuntimeError: x)"] * 5,
             "flaky": [20.0, "failed (RuntimeError: y)", 20.0, 20.0, 20.0]}
    rows, headers = table(rates, "classic")
    assert headers[1] == "images/s (median)" and headers[3] == "speedup (median)"
    by = {row[0].split(" (")[0].split(":")[0]: row for row in rows}
    assert by["classic"][1:4] == ["10.0", "10.0–20.0", "1.00×"]
    assert by["steady"][1:] == ["30.0", "30.0–60.0", "3.00×", "3.00–3.00×"]
    assert by["noisy"][3] == "1.10×" and by["noisy"][4].endswith("(not measurable here)")
    assert by["broken"][1:] == ["-", "-", "-", "-"] and "RuntimeError: x" in by["broken"][0]
    assert "1 of 5 rounds failed" in by["flaky"][0] and by["flaky"][3] == "2.00×"
