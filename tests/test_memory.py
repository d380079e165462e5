"""utils.memory: what training a module costs in memory, counted from the tensors themselves."""

import torch
from torch import nn

from utils.layers.densenet import DenseBlock
from utils.memory import peak_activation_bytes, saved_activation_bytes


def test_saved_bytes_are_the_saved_activations_exactly():
    """A ReLU saves its output (2 × 5 float32 = 40 bytes), which the loss's square reuses (one
    storage, counted once); a linear layer saves its input and weight, which are not counted."""
    x = torch.randn(2, 5, requires_grad=True)
    assert saved_activation_bytes(nn.ReLU(), x) == 2 * 5 * 4
    assert saved_activation_bytes(nn.Sequential(nn.Linear(5, 7), nn.ReLU()), x) == 2 * 7 * 4
    assert peak_activation_bytes(nn.ReLU(), x) > 2 * 5 * 4           # the backward's tensors too


def test_memory_counters():
    """Saved for backward: quadratic in the depth without checkpointing (the increments grow by
    the same amount each step), linear with it (constant increments); the peak is larger."""
    torch.manual_seed(0)
    saved = {m: [] for m in (False, True)}
    for depth in (2, 4, 6, 8):
        for m in (False, True):
            block = DenseBlock(depth, 8, 4, memory_efficient=m)
            x = torch.randn(1, 8, 8, 8, requires_grad=True)
            saved[m].append(saved_activation_bytes(block, x))
            assert peak_activation_bytes(block, x) > saved[m][-1]
    d_plain = [b - a for a, b in zip(saved[False], saved[False][1:])]
    d_ckpt = [b - a for a, b in zip(saved[True], saved[True][1:])]
    assert len(set(d_ckpt)) == 1
    assert len({b - a for a, b in zip(d_plain, d_plain[1:])}) == 1 and d_plain[1] > d_plain[0]
    assert all(p > c for p, c in zip(saved[False], saved[True]))
