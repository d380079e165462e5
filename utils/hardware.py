"""The device to compute on, and its name in words: shared by ``utils.data`` and ``utils.train``
(a module of its own, so that ``utils.data`` need not import ``utils.train``)."""

from __future__ import annotations

import os

import torch


def device() -> torch.device:
    """The device to train on: ``$CNN_DEVICE`` when set (``cpu`` or ``cuda``), else the first
    CUDA GPU when there is one, else the CPU. The variable lets a benchmark (or a reader) train on
    the CPU of a machine that has a GPU."""
    wanted = os.environ.get("CNN_DEVICE", "").strip().lower()
    if wanted not in ("", "cpu", "cuda"):
        raise ValueError(f"CNN_DEVICE={wanted!r} is not a device: use cpu or cuda (or unset it)")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CNN_DEVICE=cuda, but torch sees no CUDA GPU on this machine")
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def describe_device(dev: torch.device | str | None = None) -> str:
    """A short human name for the device: "NVIDIA Tesla T4", "CPU (2 threads)"."""
    dev = torch.device(dev) if dev is not None else device()
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        return name if name.upper().startswith("NVIDIA") else f"NVIDIA {name}"
    if dev.type == "cpu":
        n = torch.get_num_threads()
        return f"CPU ({n} thread{'s' if n != 1 else ''})"
    return dev.type.upper()
