"""What training a module costs in memory, counted the same way on every machine.

A GPU's allocator reports peaks (``torch.cuda.max_memory_allocated``), but a CPU has no such
counter and the numbers differ between devices and runs. These two functions count bytes from
the tensors themselves, so a chapter's stored output is reproducible (chapter 11 measures
DenseNet's concatenations with and without gradient checkpointing):

- ``saved_activation_bytes(module, x)``: the bytes of the tensors that autograd saves for the
  backward pass of ``module(x)``;
- ``peak_activation_bytes(module, x)``: the largest number of bytes alive at any one time during
  the forward and backward pass.
"""

import contextlib

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode


@contextlib.contextmanager
def _one_thread():
    """Counting bytes needs no parallelism: one thread, then the caller's setting again (many
    tiny operations on a busy machine are far slower with several threads than with one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _loss(module, x):
    out = module(x)
    return out.float().square().mean() if out.dim() else out


def saved_activation_bytes(module: nn.Module, x: torch.Tensor) -> int:
    """The bytes of the tensors that autograd saves for the backward pass of ``module(x)``, each
    storage counted once (in-place layers and views share one). Parameters and ``x`` itself are
    not counted. Deterministic: the same on every machine. Under gradient checkpointing a
    checkpointed region saves only its inputs (counted); what it computes inside is recomputed
    in the backward pass, not saved, and not counted."""
    seen, exclude = {}, {p.untyped_storage().data_ptr() for p in module.parameters()}
    exclude.add(x.untyped_storage().data_ptr())

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in exclude and s.device.type != "meta":
            seen[s.data_ptr()] = s.nbytes()
        return t

    with _one_thread(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _loss(module, x)
    return sum(seen.values())


class _LiveBytes(TorchDispatchMode):
    """Counts the storages that the operations inside it create, as long as they are alive
    (weak references to each storage, checked after every operation)."""

    def __init__(self):
        super().__init__()
        self.live, self.now, self.peak = {}, 0, 0

    def _sweep(self):
        expired, free = torch.UntypedStorage._expired, torch.UntypedStorage._free_weak_ref
        for key in [k for k, (ref, _) in self.live.items() if expired(ref)]:
            ref, nbytes = self.live.pop(key)
            free(ref)
            self.now -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self._sweep()
        for t in torch.utils._pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                s = t.untyped_storage()
                key = (s.data_ptr(), s.nbytes())
                if s.nbytes() and key not in self.live:
                    self.live[key] = (s._weak_ref(), s.nbytes())
                    self.now += s.nbytes()
        self.peak = max(self.peak, self.now)
        return out

    def __exit__(self, *exc):
        for ref, _ in self.live.values():
            torch.UntypedStorage._free_weak_ref(ref)
        self.live = {}
        return super().__exit__(*exc)


def peak_activation_bytes(module: nn.Module, x: torch.Tensor) -> int:
    """The largest number of bytes that the tensors created by ``module(x)``'s forward and
    backward pass occupy at any one time: the memory training needs besides the weights, their
    gradients and the input, counted on any device without an allocator (every operation's
    outputs while they are alive; deterministic). The weights' gradients are created by the
    backward pass and are included."""
    with _one_thread(), _LiveBytes() as mode:
        _loss(module, x).backward()
    return mode.peak
