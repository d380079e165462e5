"""The device to compute on, and its name in words: shared by ``utils.data`` and ``utils.train``
(a module of its own, so that ``utils.data`` need not import ``utils.train``)."""

from __future__ import annotations

import torch


def device() -> torch.device:
    """The device to train on: the first CUDA GPU when there is one, else the CPU."""
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
