"""Is our network the reference implementation? ``same_as_reference`` answers with three checks.

Every chapter that rebuilds a published network wants to show that its code *is* the reference
(torchvision's model, ``torchvision.ops``' block, or the chapter's own step-by-step version):

1. the same number of parameters;
2. the same state-dict layout: the same tensors under the same names (or under names that a
   stated mapping translates), with the same shapes, so that one network's weights load into the
   other;
3. the same output for the same weights: their weights are copied into ours, both networks are put
   in evaluation mode, and one random input goes through both.

The result, a ``ReferenceCheck``, prints as three lines, one per check (a notebook shows it as
text), and ``.assert_ok()`` raises with that text when a check failed, so a chapter or a test
writes ``same_as_reference(VGG("D", adaptive_pool=True), torchvision.models.vgg16(), (3, 64, 64))
.assert_ok()``. Networks built on the meta device (``with torch.device("meta"):``, shapes
without memory) get the first two checks only, which is how the full-size networks are compared
quickly.
"""

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(repr=False)
class ReferenceCheck:
    """The outcome of ``same_as_reference``: each check's numbers, ``ok``, and a short text."""

    ours: str                       # the two networks' class names
    theirs: str
    params: tuple[int, int]         # parameter counts, ours and theirs
    tensors: tuple[int, int]        # state-dict entries, ours and theirs
    mapping: dict                   # our state-dict key -> their key, as compared
    layout_problems: list           # empty when the layouts match
    outputs_close: bool | None      # None: not compared (see output_note)
    max_diff: float | None          # largest |ours − theirs| over all outputs
    output_note: str                # the input used, or why the outputs were not compared
    rtol: float
    atol: float

    @property
    def same_params(self) -> bool:
        return self.params[0] == self.params[1]

    @property
    def same_layout(self) -> bool:
        return not self.layout_problems

    @property
    def same_output(self) -> bool | None:
        return self.outputs_close

    @property
    def ok(self) -> bool:
        """All checks passed; outputs that could not be compared (meta tensors) do not fail it."""
        return self.same_params and self.same_layout and self.outputs_close is not False

    def assert_ok(self) -> "ReferenceCheck":
        """Raise ``AssertionError`` with the report when a check failed; return self otherwise."""
        if not self.ok:
            raise AssertionError("\n" + str(self))
        return self

    def __str__(self) -> str:
        mark = {True: "✓", False: "✗", None: "–"}
        verdict = "the same network" if self.ok else "NOT the same network"
        if self.ok and self.outputs_close is None:
            verdict = "the same shapes (outputs not compared)"
        a, b = self.params
        lines = [f"{self.ours} against {self.theirs}: {verdict}",
                 f"  {mark[self.same_params]} parameters  {a:,} {'=' if a == b else '≠'} {b:,}"]
        if self.same_layout:
            how = ("same names and shapes" if all(k == v for k, v in self.mapping.items())
                   else "same shapes, names mapped")
            lines.append(f"  ✓ state dict  {self.tensors[0]} tensors, {how}")
        else:
            shown = "; ".join(self.layout_problems[:4])
            more = len(self.layout_problems) - 4
            lines.append(f"  ✗ state dict  {shown}" + (f"; and {more} more" if more > 0 else ""))
        if self.outputs_close is None:
            lines.append(f"  – output      not compared: {self.output_note}")
        elif self.max_diff is None:
            lines.append(f"  ✗ output      {self.output_note}")
        else:
            lines.append(f"  {mark[self.outputs_close]} output      largest difference "
                         f"{self.max_diff:.3g} on {self.output_note} "
                         f"(rtol={self.rtol:g}, atol={self.atol:g})")
        return "\n".join(lines)

    __repr__ = __str__


def _name(model: nn.Module) -> str:
    module = type(model).__module__
    qualname = type(model).__qualname__
    if module.startswith("torch.nn."):
        return f"nn.{qualname}"
    return qualname if module in ("builtins", "__main__") else f"{module}.{qualname}"


def _shape(t) -> str:
    return "[" + ", ".join(map(str, t.shape)) + "]"


def _pair_keys(ours: dict, theirs: dict, mapping):
    """Our state-dict key -> their key, and the list of layout problems."""
    problems = []
    if mapping is None:
        pairs = {k: k for k in ours}
    elif isinstance(mapping, str) and mapping == "order":
        if len(ours) != len(theirs):
            problems.append(f"{len(ours)} tensors here, {len(theirs)} there")
        pairs = dict(zip(ours, theirs))
    elif isinstance(mapping, dict):
        pairs = {k: mapping.get(k, k) for k in ours}
    elif callable(mapping):
        pairs = {k: mapping(k) for k in ours}
    else:
        raise TypeError("mapping must be None (same names), 'order', a dict {our key: their key} "
                        f"or a function of our key; got {type(mapping).__name__}")
    used = {}
    for k, t in pairs.items():
        label = k if k == t else f"{k} → {t}"
        if t not in theirs:
            problems.append(f"{label}: only here")
        elif t in used:
            problems.append(f"{label}: {t} is also paired with {used[t]}")
        elif ours[k].shape != theirs[t].shape:
            problems.append(f"{label}: {_shape(ours[k])} here, {_shape(theirs[t])} there")
        used.setdefault(t, k)
    problems += [f"{t}: only there" for t in theirs if t not in used]
    return pairs, problems


def _tensors(out) -> list:
    """The output's tensors, in order (a tensor, or tuples, lists, dicts of them)."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    raise TypeError(f"cannot compare an output of type {type(out).__name__}")


def _placement(model: nn.Module):
    """The device and floating dtype of the model's first floating tensor (CPU float32 if none)."""
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    return torch.device("cpu"), torch.float32


def same_as_reference(ours: nn.Module, theirs: nn.Module, input_size=None, mapping=None, *,
                      inputs: torch.Tensor | None = None, batch: int = 2, seed: int = 0,
                      rtol: float = 1e-5, atol: float = 1e-5) -> ReferenceCheck:
    """Compare ``ours`` with the reference network ``theirs``: parameter count, state-dict layout
    and output on the same weights. Returns a ``ReferenceCheck`` (print it; ``.ok``;
    ``.assert_ok()``).

    ``input_size``: one input without the batch dimension, e.g. ``(3, 224, 224)`` as for
    ``arithmetic.summary``; ``batch`` random inputs of that size (seeded with ``seed``) go through
    both networks. Or pass ``inputs``, a ready batch. With neither, or when either network is on
    the meta device, the outputs are not compared.

    ``mapping`` says which of their state-dict entries each of ours corresponds to:

    - ``None`` (the default): the same names, e.g. ``VGG("D", adaptive_pool=True)`` and
      torchvision's ``vgg16``;
    - ``"order"``: the i-th entry of ours with the i-th of theirs, whatever the names (a
      written-out ``nn.Sequential`` numbered 0, 1, 2 … against a module with named layers);
    - a dict ``{our key: their key}`` (keys it does not list keep their names), or a function of
      our key returning theirs (e.g. ``lambda k: k.replace("conv1.", "features.0.")``).

    Either way every entry, parameters and buffers alike (batch norm's running statistics), must
    find a partner of the same shape, and every one of theirs must be used once.

    For the output check, ``ours`` receives a copy of their weights (it keeps them afterwards: pass
    a fresh network if that matters) and both are run in evaluation mode, so dropout is off and
    batch norm uses the running statistics; each module's training flag is restored at the end.
    Outputs are compared like ``torch.allclose(ours, theirs, rtol, atol)``.
    """
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    pairs, problems = _pair_keys(ours_sd, theirs_sd, mapping)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    check = ReferenceCheck(ours=_name(ours), theirs=_name(theirs),
                           params=(count(ours), count(theirs)),
                           tensors=(len(ours_sd), len(theirs_sd)), mapping=pairs,
                           layout_problems=problems, outputs_close=None, max_diff=None,
                           output_note="", rtol=rtol, atol=atol)
    if inputs is None and input_size is None:
        check.output_note = "no input_size given"
    elif problems:
        check.output_note = "the state dicts differ, so the weights cannot be copied"
    elif any(t.is_meta for t in (*ours_sd.values(), *theirs_sd.values())):
        check.output_note = "meta tensors (shapes only)"
    else:
        _compare_outputs(check, ours, theirs, theirs_sd, pairs, input_size, inputs, batch, seed)
    return check


def _compare_outputs(check, ours, theirs, theirs_sd, pairs, input_size, inputs, batch, seed):
    if inputs is None:
        g = torch.Generator().manual_seed(seed)
        inputs = torch.randn((batch, *input_size), generator=g)
    modes = [(m, m.training) for m in (*ours.modules(), *theirs.modules())]
    outs, side = [], "copying their weights into ours"
    try:
        with torch.no_grad():
            ours.load_state_dict({k: theirs_sd[t] for k, t in pairs.items()})
            ours.eval(), theirs.eval()
            for side, model in (("ours", ours), ("theirs", theirs)):
                outs.append(_tensors(model(inputs.to(*_placement(model)))))
    except Exception as e:  # noqa: BLE001 - a network that cannot run this input fails the check
        message = str(e).strip().splitlines()[0] if str(e).strip() else ""
        check.outputs_close = False
        check.output_note = f"{side} raised {type(e).__name__}: {message}"
        return
    finally:
        for m, training in modes:
            m.training = training
    a, b = ([t.detach().to("cpu", torch.float64) for t in out] for out in outs)
    check.output_note = "a " + "×".join(map(str, inputs.shape)) + " input"
    if [t.shape for t in a] != [t.shape for t in b]:
        check.outputs_close, check.max_diff = False, float("inf")
        check.output_note += (f" (output shapes {[tuple(t.shape) for t in a]} here, "
                              f"{[tuple(t.shape) for t in b]} there)")
        return
    check.max_diff = max((float((x - y).abs().max()) for x, y in zip(a, b) if x.numel()),
                         default=0.0)
    check.outputs_close = all(torch.allclose(x, y, rtol=check.rtol, atol=check.atol)
                              for x, y in zip(a, b))


# --- networks with random weights, fast (for equal-output checks) ---------------------------------

PERIOD = 65_537  # a prime: a tiled noise pattern of this length repeats in no row or filter


def _uniform_(t: torch.Tensor, low: float, high: float, g: torch.Generator):
    """Fill ``t`` with uniform noise: fresh numbers for the first ``PERIOD`` values, then that
    stretch tiled (drawing 100 million numbers one by one takes seconds; tiling is a copy)."""
    n = t.numel()
    noise = torch.empty(min(n, PERIOD)).uniform_(low, high, generator=g)
    if n > PERIOD:
        noise = noise.repeat(-(-n // PERIOD))[:n]
    t.copy_(noise.view(t.shape))


def random_weights(make, seed: int | None = 0) -> nn.Module:
    """``make()`` with seeded random weights, fast: built on the meta device, then given memory.

    Weights are uniform with variance 1/fan-in (so that activations keep their scale through a
    deep ReLU network), biases and batch-norm shifts small, batch-norm scales and running
    variances in [0.5, 1.5] (so that a misplaced normalisation would change the output), and
    integer buffers (``num_batches_tracked``) zero. Every tensor gets its own noise. ``seed=None``
    leaves the memory uninitialised: for the network that ``same_as_reference`` overwrites with
    the other's weights anyway.
    """
    with torch.device("meta"):
        model = make()
    hidden = {n for n, _ in model.named_buffers()} - set(model.state_dict())
    if hidden:  # non-persistent buffers (LeNetC3's table) would be left as uninitialised memory
        raise ValueError(f"random_weights() cannot fill non-persistent buffers {sorted(hidden)}: "
                         "construct this model normally")
    model = model.to_empty(device="cpu")
    if seed is None:
        return model
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                t.zero_()
            elif name.endswith("running_var") or (t.dim() == 1 and name.endswith("weight")):
                _uniform_(t, 0.5, 1.5, g)
            elif t.dim() == 1:
                _uniform_(t, -0.1, 0.1, g)
            else:
                bound = (3.0 / t[0].numel()) ** 0.5
                _uniform_(t, -bound, bound, g)
    return model
