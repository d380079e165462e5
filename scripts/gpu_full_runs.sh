#!/usr/bin/env bash
# The chapters' full-budget runs on a GPU machine, as many as fit in a time budget.
#
# Usage, with a copy of the repository's working tree as the current folder:
#   OUT=gpu-out bash scripts/gpu_full_runs.sh [--minutes 11] [--wheels DIR] [--no-bench] [--bundle]
#
#   --minutes M  the whole script's time budget, set-up included (default 11). Chapters start only
#                while their estimate fits (scripts/run_chapters.py --missing-first --minutes);
#                a cell still running when the budget is spent is interrupted.
#   --wheels D   install the wheels in D first, offline, into a temporary folder (default: .whl if
#                it holds wheels). The chapters need torch, torchvision, numpy, matplotlib, tqdm
#                and ipywidgets (requirements.txt) and d2l's wheel (its cells compare with D2L;
#                without it chapter 0 failed on the H200, 2026-11-30); the runner needs
#                nbclient, nbformat and ipykernel, with their dependencies.
#   --no-bench   skip benchmarks/bench_pipeline.py (run by default when 2 minutes are left).
#   --bundle     pack chapters/ and results/ into $OUT/gpu-runs.tar.gz, so that $OUT holds four
#                files: the log, timings.json, bench_pipeline.txt and the archive.
#
# Steps: (1) print Python, torch, CUDA and the GPU, and the version of every requirement; stop if
# anything is missing or there is no CUDA GPU; (2) find CIFAR-10 where utils/data.py looks
# ($CIFAR10_DIR, ~/.cache/cnn-history, ../shared/data/cifar10-jpeg.tar.gz beside the repository),
# else in ./data or ./shared/data of this copy (then CIFAR10_DIR points there), load it once
# (building the cache) and say which copy it is; stop if there is none: the machine may have no
# internet; (3) print the plan, then run the chapters with --budget full, those without a full run
# in results/ first; (4) benchmarks/bench_pipeline.py if time remains.
#
# $OUT (default ./gpu-out) receives: chapters/*.ipynb (the executed notebooks), results/*.json
# (copies of results/ with the new records appended), timings.json (chapter, wall seconds, GPU,
# torch version), bench_pipeline.txt and gpu_full_runs.log. Copy chapters/ and results/ back into
# the repository, then run python scripts/leaderboard.py there.
# GPU_RUNS_REHEARSAL=1 accepts a machine without a GPU: for rehearsing this script on tiny
# notebooks (tests/test_run_chapters.py does), never for the real chapters.
# Exit status: 0 when every chapter that started passed; otherwise the runner's (1 a failure,
# 3 stopped by the time budget), or 2 when the machine is not ready (nothing was run).

set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

minutes=11 wheels="" bench=1 bundle=0
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="${2:?--minutes needs a number}"; shift 2 ;;
    --wheels) wheels="${2:?--wheels needs a folder}"; shift 2 ;;
    --no-bench) bench=0; shift ;;
    --bundle) bundle=1; shift ;;
    -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

OUT="${OUT:-./gpu-out}"
mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)" || exit 2
exec > >(tee -a "$OUT/gpu_full_runs.log") 2>&1
PYTHON="${PYTHON:-$(command -v python3 || command -v python)}"
[ -n "$PYTHON" ] || { echo "STOP: no python3 on this machine"; exit 2; }
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg

budget_s=$("$PYTHON" -c "import sys; print(int(float(sys.argv[1]) * 60))" "$minutes") || exit 2
left() { echo $(( budget_s - SECONDS )); }
say() { echo; echo "== $* ($(( SECONDS / 60 )) min $(( SECONDS % 60 )) s in, $(left) s left)"; }

# --- 1. the machine -----------------------------------------------------------------------------
if [ -z "$wheels" ] && compgen -G ".whl/*.whl" >/dev/null; then wheels=.whl; fi
if [ -n "$wheels" ]; then
  say "installing the wheels in $wheels, offline"
  site="$(mktemp -d)/site"
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" \
    "$wheels"/*.whl || { echo "STOP: the wheels in $wheels did not install"; exit 2; }
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi

say "the machine"
datafile="$(mktemp)"
"$PYTHON" - "$datafile" <<'EOF' || { echo "STOP: this machine is not ready (above: why); nothing was run"; exit 2; }
import importlib.metadata as md, os, platform, re, sys
from pathlib import Path
missing = []
print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs")
try:
    import torch
except ImportError as e:
    sys.exit(f"MISSING torch ({e}): install it (with CUDA) first")
cuda = torch.cuda.is_available()
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
      f"GPU: {torch.cuda.get_device_name(0) if cuda else 'none'}")
if not cuda and os.environ.get("GPU_RUNS_REHEARSAL") == "1":
    print("no CUDA GPU, accepted: GPU_RUNS_REHEARSAL=1 (a rehearsal of this script)")
elif not cuda:
    print("MISSING a CUDA GPU: torch.cuda.is_available() is False")
    missing.append("a CUDA GPU")
lines = Path("requirements.txt").read_text().splitlines()
wanted = [l.split("#")[0].strip() for l in lines if l.split("#")[0].strip()]
wanted += ["nbclient>=0.7", "nbformat>=5.7", "ipykernel>=6.20", "jupyter_client",
           "d2l"]  # chapters compare with D2L's code (installed with pip install --no-deps d2l)
try:
    from packaging.requirements import Requirement
except ImportError:
    Requirement = None
for spec in wanted:
    name = re.match(r"[A-Za-z0-9_.\-]+", spec).group(0)
    try:
        version = md.version(name)
    except md.PackageNotFoundError:
        print(f"  {name}: MISSING")
        missing.append(name)
        continue
    fits = Requirement is None or Requirement(spec).specifier.contains(version, prereleases=True)
    print(f"  {name} {version}" + ("" if fits else f": TOO OLD (wants {spec})"))
    missing += [] if fits else [spec]

# CIFAR-10: where utils/data.py looks, then this copy's data/ and shared/data/.
sys.path.insert(0, os.getcwd())
from utils import data
def found_in(folder):                             # the loader reads a cache in the data folder only
    if folder == data.data_dir() and (folder / data.CACHE_NAME).is_file():
        return f"the cache {data.CACHE_NAME}"
    copies = data._candidates(folder)
    return f"a copy ({copies[0][1].name})" if copies else None
chosen = None
for folder in data._search_dirs(None):
    if found_in(folder):
        print(f"CIFAR-10: {found_in(folder)} in {data._show(folder)}")
        chosen = ""
        break
if chosen is None:
    copies = [Path(c) for c in data.OFFLINE_COPIES if Path(c).is_file()]
    if copies:
        print(f"CIFAR-10: the offline copy {data._show(copies[0])}")
        chosen = ""
if chosen is None:
    for folder in (Path("data"), Path("shared") / "data"):
        os.environ["CIFAR10_DIR"] = chosen = str(folder.resolve())
        if found_in(folder.resolve()):
            print(f"CIFAR-10: {found_in(folder.resolve())} in ./{folder}: CIFAR10_DIR points there")
            break
        del os.environ["CIFAR10_DIR"]
        chosen = None
if missing:
    sys.exit("STOP: missing " + ", ".join(missing) + ("" if missing == ["a CUDA GPU"] else
             " (no internet? bring the wheels: --wheels DIR)"))
if chosen is None:
    sys.exit("STOP: no CIFAR-10 here. utils/data.py looks in $CIFAR10_DIR, ~/.cache/cnn-history "
             "and ../shared/data/cifar10-jpeg.tar.gz; this script also in ./data and "
             "./shared/data. Put cifar10-jpeg.tar.gz (or cifar-10-python.tar.gz) in ./data.")
d = data.load_cifar10()                           # builds the cache; prints where it came from
print(f"CIFAR-10 source: {d.source}")
Path(sys.argv[1]).write_text(chosen)
EOF
if [ -s "$datafile" ]; then export CIFAR10_DIR="$(cat "$datafile")"; fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
  --format=csv,noheader

# --- 2. the chapters, full budget ---------------------------------------------------------------
# The runner gets what is left, less 30 s for the end of this script.
minutes_left() { "$PYTHON" -c "import sys; print(max(0, int(sys.argv[1]) - 30) / 60)" "$(left)"; }
runner=(scripts/run_chapters.py --budget full --missing-first --out "$OUT")
say "the plan"
"$PYTHON" "${runner[@]}" --plan --minutes "$(minutes_left)"
say "running the chapters"
"$PYTHON" "${runner[@]}" --keep-going --minutes "$(minutes_left)"
status=$?

# --- 3. the benchmark ---------------------------------------------------------------------------
if [ "$bench" = 1 ] && [ "$(left)" -ge 120 ]; then
  say "benchmarks/bench_pipeline.py, stopped after $(( $(left) - 15 )) s"
  timeout --signal=INT "$(( $(left) - 15 ))" "$PYTHON" benchmarks/bench_pipeline.py \
    2>&1 | tee "$OUT/bench_pipeline.txt"
  [ "${PIPESTATUS[0]}" = 124 ] && echo "(the benchmark was stopped at the time budget)" \
    | tee -a "$OUT/bench_pipeline.txt"
elif [ "$bench" = 1 ]; then
  echo "benchmark skipped: $(left) s left, fewer than 120" | tee "$OUT/bench_pipeline.txt"
fi

# --- 4. what comes back -------------------------------------------------------------------------
if [ "$bundle" = 1 ]; then
  (cd "$OUT" && tar -czf gpu-runs.tar.gz $(ls -d chapters results timings.json 2>/dev/null) \
    && rm -rf chapters results)
fi
say "done, exit status $status"
ls -la "$OUT"
exit "$status"
