"""The course's data pipeline and training loop against the classic ones, measured side by side.

Run from the repository's root, with nothing else heavy running (on a shared machine, under
``flock LOCKFILE`` with the lock the other heavy runs take):

    python benchmarks/bench_pipeline.py

1. The data pipeline alone, in images per second: ``utils.data.DeviceLoader`` (the whole set as
   uint8 tensors, crop + flip + normalise on whole batches) against the classic torchvision
   pipeline: a Dataset of PIL images (what ``torchvision.datasets.CIFAR10.__getitem__`` does) with
   ``RandomCrop(32, 4)``, ``RandomHorizontalFlip``, ``ToTensor``, ``Normalize`` and a
   ``DataLoader`` with 2 workers, batch 512. Both read the same uint8 images, so only the
   pipeline differs. Each is timed over full epochs of the 50,000 training images; the best
   epoch of each counts.
2. Training ResNet-18 (the CIFAR variant of kuangliu/pytorch-cifar: a 3x3 stem, no max-pool) on
   the CPU, in images per second, over the same few hundred images after one warm-up step: the
   classic loop (fp32, NCHW, the DataLoader above with batch 128) against the course's loop
   (``utils.train.fit``) and a plain step on ``DeviceLoader`` batches in NCHW and channels_last.
   A few seconds of training per measurement is at the mercy of whatever else the machine runs
   (on a loaded 2-core machine single runs gave the course's loop anything from 0.9x to 4.4x),
   so the loops run in ``--repeats`` rounds (default 5), each round in a rotated order, and the
   table gives the median rate with its range and the median of each round's ratio to the
   classic loop in that same round (paired, so a slow drift of the load cancels), with the load
   average after every round. When the ratios' range crosses 1x, or the load exceeds the cores,
   it says that the difference is not measurable on this machine now.
3. With a CUDA GPU: the time for ResNet-18 to reach 94% test accuracy with the full recipe of
   ``utils.train.fit``. Without one this part is skipped, and says so.

What to expect. The pipeline matters where a fast GPU waits for it: a Colab T4 has 2 vCPUs,
and the classic pipeline delivers a few thousand images a second on 2 cores, fewer than the GPU
trains on. On a CPU the training step dominates (a ResNet-18 step on 2 cores takes seconds per
batch; making the batch takes milliseconds either way), so part 2 is close to 1x, and says so.
Every timing here is only as good as the machine is quiet: the load average is printed.

The last line reads ``data pipeline speedup: N.N×``. ``--quick`` runs a small version of
everything, to check that the script works (its numbers mean little).
"""

import argparse
import contextlib
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from utils import data  # noqa: E402


class PILDataset(Dataset):
    """The classic pipeline's dataset: one PIL image per item, transformed one at a time.

    ``torchvision.datasets.CIFAR10`` does exactly this over its N x 32 x 32 x 3 uint8 array; it
    needs the official pickled batches, which a machine without internet may lack, so this class
    serves the same array."""

    def __init__(self, images, labels, transform):
        self.data = images.permute(0, 2, 3, 1).numpy()      # N x H x W x C, as torchvision's
        self.targets = labels.tolist()
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.data[i])), self.targets[i]


CLASSIC_TRANSFORM = T.Compose([
    T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
    T.Normalize(data.CIFAR10_MEAN, data.CIFAR10_STD)])


def classic_loader(images, labels, batch_size, *, persistent=False):
    return DataLoader(PILDataset(images, labels, CLASSIC_TRANSFORM), batch_size=batch_size,
                      shuffle=True, num_workers=2, persistent_workers=persistent)


def resnet18_cifar() -> nn.Module:
    """ResNet-18 for 32x32 inputs as in kuangliu/pytorch-cifar: torchvision's ResNet-18 with a
    3x3 stride-1 stem and no max-pool (its blocks and shortcuts are the same)."""
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def epochs_per_second(loader, n_epochs):
    """Images per second of each full pass over ``loader`` (nothing else done with the batches)."""
    rates = []
    for _ in range(n_epochs):
        t0, n = time.perf_counter(), 0
        for x, y in loader:
            n += len(y)
        rates.append(n / (time.perf_counter() - t0))
    return rates


def batches_per_second(loader, n_batches):
    """Images per second from the median time of ``n_batches`` batches, after a warm-up batch
    (the median, so that a moment of load from elsewhere on the machine does not count)."""
    batches = iter(loader)
    next(batches)
    times = []
    for _ in range(n_batches):
        t0 = time.perf_counter()
        x, y = next(batches)
        times.append(time.perf_counter() - t0)
    return len(y) / statistics.median(times)


def train_rate(model, batches, *, channels_last=False):
    """Images per second of plain SGD steps over ``batches`` (an iterable), after one warm-up step.

    The loop of kuangliu/pytorch-cifar: SGD, momentum 0.9, weight decay 5e-4, cross-entropy."""
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()
    model.train()
    n, t0 = 0, None
    for x, y in batches:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        loss = criterion(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if t0 is None:                       # the first step (allocations, kernel choice) is warm-up
            t0 = time.perf_counter()
        else:
            n += len(y)
    return n / (time.perf_counter() - t0)


def fit_rate(d, n_images, batch_size):
    """Images per second of ``utils.train.fit`` (its own measurement), second of two epochs."""
    from utils import train
    budget = train.Budget("quick", epochs=2, train_size=n_images, test_size=100,
                          batch_size=batch_size, note="benchmark")
    # (the schedule does not change the speed; 'cosine' because torch's OneCycleLR cannot
    # schedule a warm-up of a single step, which is what a few steps' 20% rounds to)
    os.environ.setdefault("TQDM_DISABLE", "1")
    # Part 2 compares loops on the CPU: without CNN_DEVICE=cpu, fit would take a GPU when there
    # is one and the ratio would compare a GPU with a CPU.
    before = os.environ.get("CNN_DEVICE")
    os.environ["CNN_DEVICE"] = "cpu"
    try:
        with contextlib.redirect_stdout(io.StringIO()):   # keep the tables readable
            history = train.fit(resnet18_cifar(), d, budget, run="bench", chapter="benchmark",
                                schedule="cosine", checkpoint=False, record=False,
                                live_plot=False)
    finally:
        if before is None:
            os.environ.pop("CNN_DEVICE")
        else:
            os.environ["CNN_DEVICE"] = before
    return history.epochs[-1]["images_per_s"]


def gpu_time_to_94(d, max_epochs):
    """Seconds for ResNet-18 with the course's full recipe to first reach 94% test accuracy."""
    from utils import train
    budget = train.Budget("full", epochs=max_epochs, train_size=None, test_size=None,
                          batch_size=512, note="benchmark: time to 94%")
    history = train.fit(resnet18_cifar(), d, budget, run="time-to-94", chapter="benchmark",
                        label_smoothing=0.2, tta=True, checkpoint=False, record=False,
                        live_plot=False)
    elapsed = 0.0
    for e in history.epochs:
        elapsed += e["seconds"]
        if e["test_acc"] >= 0.94:
            return elapsed, e["epoch"], history
    return None, None, history


def load_note() -> str:
    """The machine's 1-minute load average: on a shared machine, other work skews timings
    (with 2 cores, a load above 2 means something else is running)."""
    return f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"


def training_table(rates: dict, reference: str) -> tuple[list, list]:
    """Rows for part 2: per loop the median images/s and its range over the rounds, and the
    median and range of its ratio to ``reference`` in the same round (failed rounds dropped).
    A loop whose ratios fall both below and above 1x is marked "not measurable here"."""
    rows = []
    ref = rates[reference]
    for name, runs in rates.items():
        ok = [r for r in runs if not isinstance(r, str)]
        if not ok:
            rows.append([f"{name}: {runs[0]}", "-", "-", "-", "-"])
            continue
        ratios = [r / c for r, c in zip(runs, ref)
                  if not isinstance(r, str) and not isinstance(c, str)]
        if name == reference:
            speed, spread = "1.00×", ""
        elif ratios:
            speed = f"{statistics.median(ratios):.2f}×"
            spread = f"{min(ratios):.2f}–{max(ratios):.2f}×"
            if min(ratios) < 1 < max(ratios):
                spread += " (not measurable here)"
        else:
            speed, spread = "-", "-"
        failed = len(runs) - len(ok)
        rows.append([name + (f" ({failed} of {len(runs)} rounds failed)" if failed else ""),
                     f"{statistics.median(ok):.1f}", f"{min(ok):.1f}–{max(ok):.1f}",
                     speed, spread])
    return rows, ["training loop", "images/s (median)", "range", "speedup (median)",
                  "speedup range"]


def table(rows, headers):
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    line = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)   # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run to check the script")
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds of part 2, the training loops (default 5; 2 with --quick)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice, one per core); on a machine "
                             "busy with other work, 1 avoids threads waiting for each other")
    args = parser.parse_args()
    quick = args.quick
    repeats = args.repeats or (2 if quick else 5)
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, "
          f"torchvision {torchvision.__version__} {load_note()}")
    d = data.load_cifar10()
    images, labels = d.train_images, d.train_labels
    if quick:
        images, labels = images[:5000], labels[:5000]

    # 1. The data pipeline alone --------------------------------------------------------------
    # Ours (an epoch takes about a second) is timed before and after the classic pipeline (15 s
    # an epoch), so a change in the machine's load during the run favours neither; the best
    # epoch of each counts.
    n_epochs = 1 if quick else 3
    ours = data.DeviceLoader(images, labels, 512, train=True, device="cpu")
    ours_rates = epochs_per_second(ours, 2 * n_epochs)[1:]              # the first pass warms up
    classic = classic_loader(images, labels, 512, persistent=True)
    next(iter(classic))                                                  # start the workers
    classic_rate = max(epochs_per_second(classic, n_epochs))
    del classic
    ours_rate = max(ours_rates + epochs_per_second(ours, 2 * n_epochs))
    rows = [["classic: PIL Dataset + transforms, DataLoader(2 workers)", f"{classic_rate:,.0f}",
             f"{512e3 / classic_rate:.1f}", "1.0×"],
            ["course: DeviceLoader (crop + flip + normalise)", f"{ours_rate:,.0f}",
             f"{512e3 / ours_rate:.1f}", f"{ours_rate / classic_rate:.1f}×"]]
    for name, kwargs in [("  the same + PCA colour jitter", dict(augment=("crop", "flip", "pca"))),
                         ("  the same + resize to 64x64", dict(resize=64)),
                         ("  the same + resize to 224x224", dict(resize=224))]:
        loader = data.DeviceLoader(images, labels, 512, train=True, device="cpu", **kwargs)
        rate = batches_per_second(loader, 4 if quick else 20)
        rows.append([name, f"{rate:,.0f}", f"{512e3 / rate:.1f}", ""])
    print(f"\n1. Data pipeline alone, CPU, batch 512, {len(labels):,} training images "
          f"(best epoch of each; the 'the same +' rows: median of 20 batches)")
    print(table(rows, ["pipeline", "images/s", "ms/batch", "speedup"]))
    print(load_note())

    # 2. Training ResNet-18 on the CPU ----------------------------------------------------------
    # Every loop runs once a round, the rounds in rotated orders (A B C D, B C D A, ...); the
    # table gives medians over the rounds and the ratio to the classic loop round by round.
    batch, n_batches = (32, 3) if quick else (128, 3)
    n = batch * (n_batches + 1)                                # one warm-up batch, then timed
    sub = data.subset(d, n_train=batch * n_batches, n_test=100)

    def device_loader():
        return data.DeviceLoader(images[:n], labels[:n], batch, train=True, device="cpu")

    loops = {
        "classic: fp32, NCHW, DataLoader(2 workers)":
            lambda: train_rate(resnet18_cifar(), classic_loader(images[:n], labels[:n], batch)),
        "DeviceLoader + plain step, NCHW":
            lambda: train_rate(resnet18_cifar(), device_loader()),
        "DeviceLoader + plain step, channels_last":
            lambda: train_rate(resnet18_cifar(), device_loader(), channels_last=True),
        "course loop: utils.train.fit": lambda: fit_rate(sub, batch * n_batches, batch),
    }
    rates = {name: [] for name in loops}      # one entry per round: images/s, or why it failed
    loads = []
    names = list(loops)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:    # rotated each round
            torch.manual_seed(0)
            try:
                rates[name].append(loops[name]())
            except Exception as exc:   # TRAIN's module is still changing: say so, keep the table
                rates[name].append(f"failed ({type(exc).__name__}: {exc})")
        loads.append(os.getloadavg()[0])
    print(f"\n2. ResNet-18 (CIFAR variant) training on the CPU, batch {batch}, "
          f"{batch * n_batches} images timed after one warm-up step; {repeats} rounds, each "
          f"loop once a round in a rotated order")
    print(table(*training_table(rates, next(iter(loops)))))
    print(f"load average (1 min) after each round: {', '.join(f'{x:.1f}' for x in loads)} "
          f"on {os.cpu_count()} cores")
    if max(loads) > (os.cpu_count() or 1):
        print("the machine was busy during part 2 (load above its cores): other work took CPU "
              "time from these loops, by different amounts in each run; read the ranges, and "
              "measure on a quiet machine before quoting a speedup")

    # 3. Time to 94% on a GPU -------------------------------------------------------------------
    print("\n3. Time to 94% test accuracy, ResNet-18, the course's full recipe")
    if torch.cuda.is_available():
        seconds, epoch, history = gpu_time_to_94(d, 2 if quick else 30)
        print(f"device: {history.device_name}; data: {d.source}")
        print(f"reached 94% after {epoch} epochs, {seconds:.1f} s" if seconds is not None else
              f"did not reach 94% (best {100 * history.best_acc:.2f}%) in "
              f"{len(history.epochs)} epochs")
    else:
        print("skipped: no CUDA GPU on this machine (torch.cuda.is_available() is False); "
              "run this script on a GPU machine to measure it")

    print(f"\ndata pipeline speedup: {ours_rate / classic_rate:.1f}×")


if __name__ == "__main__":
    main()
