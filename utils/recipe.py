"""How a network is trained: the ``Recipe`` (optimiser, learning rate and its schedule,
regularisation, augmentation, precision, weight averaging), and what ``utils.train.fit`` builds
from it: the optimiser, the schedule, the loss and the weights' moving average.

One frozen dataclass per chapter, printed in one line and stored with the run (the results
record and the checkpoint, which resumes only under the same recipe)::

    GOOGLENET = Recipe(lr=0.05, aux_weights=(0.3, 0.3))          # the paper's 0.3
    RESNET = Recipe(schedule="step", milestones=(0.5, 0.75), warmup=0.0)
    INCEPTION_V3 = Recipe(optimizer="rmsprop", lr=0.045 * 128 / 32, rms_eps=1.0,
                          schedule="exponential", decay_factor=0.94, decay_epochs=2,
                          label_smoothing=0.1, aux_weights=(0.4,))
    print(GOOGLENET)
    history = train.fit(model, data, budget, GOOGLENET, run="googlenet", chapter="googlenet")

The course's default recipe follows what made CIFAR-10 training fast (Page, 2018; Jordan, 2024):
SGD with momentum and a one-cycle learning rate, no weight decay on norms and biases, random
crops and flips done on the device.

**RMSProp as TensorFlow computes it** (Inception v3, MobileNet, EfficientNet were trained
with it; ``optimizer="rmsprop"``): with decay ρ, momentum μ, epsilon ε and learning rate η,

    ms  ← ρ·ms + (1 − ρ)·g²           (ms starts at 1, as TF1's RMSPropOptimizer has it)
    mom ← μ·mom + η·g / √(ms + ε)      (ε inside the square root; η inside the momentum)
    w   ← w − mom

whereas ``torch.optim.RMSprop`` starts ms at 0, adds ε outside the root (g / (√ms + ε)) and
applies η after the momentum. The two are not interchangeable: ε = 1.0 (Inception v3) inside
the root damps every step of a parameter whose gradients are small, which no torch ε reproduces
(√ε is a rough guide only, exact nowhere), and the zero start makes torch's first step
lr/√(1 − ρ) ≈ 3.2·lr whatever the gradient's size, where TensorFlow's start at 1 makes the first
steps small. ``RMSpropTF`` is the TensorFlow form, written here in a few
lines (checked against a hand computation in ``tests/test_train.py``) rather than taken from
timm, which has the same optimiser but is not a requirement of the course.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

OPTIMIZERS = ("sgd", "adamw", "rmsprop")
SCHEDULES = ("onecycle", "cosine", "constant", "step", "exponential")


def _describe_augment(augment):
    """The augmentation in words, as stored: "crop, flip", a callable's name, or None."""
    if not augment:
        return None
    if callable(augment):
        return getattr(augment, "__name__", type(augment).__name__)
    return ", ".join(str(a) for a in augment)


@dataclass(frozen=True)
class Recipe:
    """How a network is trained (one chapter's choices); every field has the course's default.

    - ``optimizer``: 'sgd', 'adamw' or 'rmsprop' (TensorFlow's form, ``RMSpropTF``);
    - ``lr``: the peak learning rate; None is the default rule for the batch size: SGD 0.1 per
      256 images (He et al., 2016; Goyal et al., 2017), AdamW 1e-3, RMSProp 0.016 per 256
      (EfficientNet's 0.256 for 4,096);
    - ``momentum`` (SGD and RMSProp), ``nesterov`` (SGD only; plain momentum by default);
    - ``weight_decay``: L2, on the weights of convolutions and linear layers only;
    - ``schedule``: 'onecycle' (linear up, linear down), 'cosine', 'constant', 'step' (the
      rate is multiplied by ``step_factor``, ÷10, at each of ``milestones``: epochs, or
      fractions of the run when below 1; ResNet) or 'exponential' (multiplied by
      ``decay_factor`` every ``decay_epochs`` epochs, in steps; Inception v3: 0.94 every 2);
    - ``warmup``: the fraction of the run spent rising linearly to the peak; None is 0.2 for
      one-cycle, 0.05 for cosine and constant, 0 for step and exponential (as their papers);
    - ``label_smoothing``; ``aux_weights``: for a model whose training output is
      ``(logits, aux1, aux2, ...)``, the loss is CE(logits) + Σ wᵢ·CE(auxᵢ) (GoogLeNet: 0.3
      each); ``stochastic_depth``: the rate, stored with the run (the model applies it);
    - ``augment``: passed to ``utils.data.DeviceLoader`` ("crop", "flip", "pca", or a callable);
    - ``amp``: mixed precision on a GPU (bf16 where the hardware has it, else fp16);
    - ``ema``: the decay of an exponential moving average of the weights (and BatchNorm
      statistics), which is evaluated instead of the raw weights; None for none;
    - ``rms_decay``, ``rms_eps``: RMSProp's ρ and ε (inside the square root; EfficientNet
      0.001, Inception v3 1.0).
    """

    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    warmup: float | None = None
    milestones: tuple = ()
    step_factor: float = 0.1
    decay_factor: float = 0.94
    decay_epochs: float = 2.0
    label_smoothing: float = 0.0
    aux_weights: tuple = ()
    stochastic_depth: float = 0.0
    augment: object = ("crop", "flip")
    amp: bool = True
    ema: float | None = None
    rms_decay: float = 0.9
    rms_eps: float = 1e-3

    def __post_init__(self):
        for name in ("milestones", "aux_weights") + (
                ("augment",) if isinstance(self.augment, list) else ()):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r}: use 'sgd' or 'adamw', or 'rmsprop' "
                             f"(TensorFlow's form)")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r}: use 'onecycle', 'cosine', 'constant', "
                             f"'step' or 'exponential'")
        if self.warmup is not None and not 0 <= self.warmup < 1:
            raise ValueError(f"warmup={self.warmup}: a fraction of the run, in [0, 1)")
        if self.schedule == "step" and not self.milestones:
            raise ValueError("schedule='step' needs milestones: the epochs (or fractions of the "
                             "run, below 1) at which the learning rate is divided by 10")
        if any(m <= 0 for m in self.milestones):
            raise ValueError(f"milestones={self.milestones}: epochs or fractions, all positive")
        if self.ema is not None and not 0 < self.ema < 1:
            raise ValueError(f"ema={self.ema}: the average's decay per step, in (0, 1)")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr={self.lr}: the peak learning rate must be positive")

    def resolved(self, batch_size: int) -> "Recipe":
        """The same recipe with ``lr`` and ``warmup`` worked out (the defaults' rules)."""
        lr = self.lr if self.lr is not None else default_lr(self.optimizer, batch_size)
        warmup = self.warmup if self.warmup is not None else \
            {"onecycle": 0.2, "cosine": 0.05, "constant": 0.05}.get(self.schedule, 0.0)
        return dataclasses.replace(self, lr=lr, warmup=warmup)

    def to_dict(self) -> dict:
        """Plain values, in the fields' order (the augmentation in words): what is stored."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["augment"] = _describe_augment(self.augment)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def __str__(self) -> str:
        if self.optimizer == "sgd":
            opt = (f"SGD, momentum {self.momentum:g}" + (" (Nesterov)" if self.nesterov else "")
                   if self.momentum else "SGD without momentum")
        elif self.optimizer == "adamw":
            opt = "AdamW"
        else:
            opt = (f"RMSProp as TensorFlow has it (decay {self.rms_decay:g}, momentum "
                   f"{self.momentum:g}, epsilon {self.rms_eps:g} inside the square root)")
        lr = (f"peak learning rate {self.lr:.3g}" if self.lr is not None else
              "peak learning rate by the default rule (" + {
                  "sgd": "0.1 per 256 images", "adamw": "1e-3",
                  "rmsprop": "0.016 per 256 images"}[self.optimizer] + ")")
        sched = {"onecycle": "one-cycle schedule", "cosine": "cosine schedule",
                 "constant": "constant rate",
                 "step": f"step schedule, ×{self.step_factor:g} at " + ", ".join(
                     f"{m:.0%} of the run" if m < 1 else f"epoch {m:g}" for m in self.milestones),
                 "exponential": f"exponential schedule, ×{self.decay_factor:g} every "
                                f"{self.decay_epochs:g} epochs"
                 }[self.schedule]
        warmup = self.resolved(256).warmup
        if warmup:
            sched += f" after a {warmup:.0%} linear warm-up"
        parts = [opt, lr, sched,
                 f"weight decay {self.weight_decay:g} (not on norms and biases)"
                 if self.weight_decay else "no weight decay"]
        if self.label_smoothing:
            parts.append(f"label smoothing {self.label_smoothing:g}")
        if self.aux_weights:
            parts.append("auxiliary losses weighted " + ", ".join(f"{w:g}"
                                                                 for w in self.aux_weights))
        if self.stochastic_depth:
            parts.append(f"stochastic depth {self.stochastic_depth:g}")
        if self.ema is not None:
            parts.append(f"moving average of the weights (decay {self.ema:g}) evaluated")
        parts.append(f"augmentation: {_describe_augment(self.augment) or 'none'}")
        parts.append("mixed precision on a GPU" if self.amp else "full precision")
        return "Recipe: " + "; ".join(parts)


def default_lr(optimizer: str, batch_size: int) -> float:
    """The default peak learning rate: SGD 0.1 per 256 images of batch (the linear scaling rule
    of He et al., 2016 and Goyal et al., 2017), AdamW 1e-3, RMSProp 0.016 per 256 images."""
    return {"sgd": 0.1 * batch_size / 256, "adamw": 1e-3,
            "rmsprop": 0.016 * batch_size / 256}[optimizer]


# --- optimisers -----------------------------------------------------------------------------------

class RMSpropTF(torch.optim.Optimizer):
    """RMSProp as TensorFlow (``tf.compat.v1.train.RMSPropOptimizer``) computes it: the mean
    square starts at 1, ε is added inside the square root, and the learning rate goes into the
    momentum buffer (see the module's docstring). ``weight_decay`` is L2 added to the gradient,
    as TensorFlow's models added it to the loss."""

    def __init__(self, params, lr=0.016, alpha=0.9, eps=1e-3, momentum=0.9, weight_decay=0.0):
        if lr <= 0 or not 0 <= alpha < 1 or eps <= 0 or momentum < 0:
            raise ValueError(f"RMSpropTF: lr={lr}, alpha={alpha}, eps={eps}, momentum={momentum}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, momentum=momentum,
                                      weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["square_avg"] = torch.ones_like(p)
                    state["momentum_buffer"] = torch.zeros_like(p)
                ms = state["square_avg"]
                ms.mul_(group["alpha"]).addcmul_(g, g, value=1 - group["alpha"])
                step = g / (ms + group["eps"]).sqrt()
                if group["momentum"] > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(group["momentum"]).add_(step, alpha=group["lr"])
                    p.sub_(buf)
                else:
                    p.sub_(step, alpha=group["lr"])
        return loss


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights of convolutions and linear layers decay; norms and biases do not.

    A parameter with one dimension or none (biases, BatchNorm/LayerNorm scales and shifts) gets
    no weight decay: shrinking a norm's scale only changes the effective learning rate of the
    layer before it, and biases are too few to overfit (Goyal et al., 2017; Jordan, 2024).
    """
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def make_optimizer(model, optimizer="sgd", lr=None, momentum=0.9, nesterov=True,
                   weight_decay=5e-4, batch_size=256, *, rms_decay=0.9, rms_eps=1e-3):
    """SGD (Nesterov momentum unless ``nesterov=False``), AdamW or ``RMSpropTF`` over
    ``param_groups``; ``lr`` None is ``default_lr``. (``Recipe`` defaults to plain momentum;
    this function keeps its historical default.)"""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}: use 'sgd' or 'adamw', or 'rmsprop' "
                         f"(TensorFlow's form)")
    groups = param_groups(model, weight_decay)
    lr = default_lr(optimizer, batch_size) if lr is None else lr
    if optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov and momentum > 0)
    if optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    return RMSpropTF(groups, lr=lr, alpha=rms_decay, eps=rms_eps, momentum=momentum)


# --- schedules ------------------------------------------------------------------------------------

def make_schedule(opt, schedule, total_steps, warmup, *, steps_per_epoch=None, milestones=(),
                  step_factor=0.1, decay_factor=0.94, decay_epochs=2.0):
    """Learning rate per step: 'onecycle' (linear up, linear down: Smith's one-cycle as in Page,
    2018), 'cosine' (linear warm-up, then cosine to zero), 'constant' (linear warm-up, then flat),
    'step' (× ``step_factor`` at each of ``milestones``: epochs, or fractions of the run when
    below 1) or 'exponential' (× ``decay_factor`` every ``decay_epochs`` epochs, in steps).

    ``warmup`` is the fraction of all steps spent rising linearly to the peak (at least one
    step, two for one-cycle); 0 means none for the others. 'step' and 'exponential' need
    ``steps_per_epoch``.
    """
    from torch.optim import lr_scheduler as S
    if total_steps < 1:
        raise ValueError(f"total_steps={total_steps}: no batch to train on (is the training set "
                         f"smaller than one batch?)")
    warm = max(1, round(warmup * total_steps))
    if schedule == "onecycle":
        if total_steps < 4:  # OneCycleLR needs at least two steps in each of its two phases
            return S.LambdaLR(opt, lambda step: 1.0)
        warm = min(max(2, warm), total_steps - 2)
        peaks = [g["lr"] for g in opt.param_groups]
        return S.OneCycleLR(opt, max_lr=peaks, total_steps=total_steps,
                            pct_start=warm / total_steps, anneal_strategy="linear",
                            cycle_momentum=False, div_factor=25.0, final_div_factor=1e3)
    if schedule in ("step", "exponential"):
        if not steps_per_epoch:
            raise ValueError(f"schedule={schedule!r} needs steps_per_epoch")
        warm = warm if warmup else 0
        if schedule == "step":
            at = sorted(round(m * total_steps) if m < 1 else round(m * steps_per_epoch)
                        for m in milestones)
            decay = lambda step: step_factor ** sum(step >= a for a in at)  # noqa: E731
        else:
            every = decay_epochs * steps_per_epoch
            decay = lambda step: decay_factor ** math.floor(step / every)  # noqa: E731
        return S.LambdaLR(opt, lambda step: decay(step) * (
            0.04 + 0.96 * step / warm if step < warm else 1.0))
    if schedule in ("cosine", "constant") and warmup == 0:  # no warm-up at all
        return (S.CosineAnnealingLR(opt, T_max=total_steps) if schedule == "cosine"
                else S.LambdaLR(opt, lambda step: 1.0))
    if schedule in ("cosine", "constant"):
        up = S.LinearLR(opt, start_factor=0.04, end_factor=1.0, total_iters=warm)
        rest = max(1, total_steps - warm)
        after = (S.CosineAnnealingLR(opt, T_max=rest) if schedule == "cosine"
                 else S.ConstantLR(opt, factor=1.0, total_iters=0))
        return S.SequentialLR(opt, [up, after], milestones=[warm])
    raise ValueError(f"schedule={schedule!r}: use 'onecycle', 'cosine', 'constant', 'step' or "
                     f"'exponential'")


# --- what fit builds from a recipe ----------------------------------------------------------------

def optimizer_for(model: nn.Module, recipe: Recipe, batch_size: int):
    """The recipe's optimiser over the model's parameters (``recipe`` resolved or not)."""
    r = recipe.resolved(batch_size)
    return make_optimizer(model, r.optimizer, r.lr, r.momentum, r.nesterov, r.weight_decay,
                          batch_size, rms_decay=r.rms_decay, rms_eps=r.rms_eps)


def schedule_for(opt, recipe: Recipe, steps_per_epoch: int, epochs: int):
    """The recipe's learning-rate schedule, stepped once per batch."""
    r = recipe.resolved(1)
    return make_schedule(opt, r.schedule, epochs * steps_per_epoch, r.warmup,
                         steps_per_epoch=steps_per_epoch, milestones=r.milestones,
                         step_factor=r.step_factor, decay_factor=r.decay_factor,
                         decay_epochs=r.decay_epochs)


def loss_for(recipe: Recipe):
    """The training loss: cross-entropy (with the recipe's label smoothing) of the logits, plus
    Σ wᵢ·CE(auxᵢ) when the model returns ``(logits, aux1, aux2, ...)`` (``aux_weights``)."""
    ce = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    weights = recipe.aux_weights

    def loss(out, y):
        if not isinstance(out, (tuple, list)):
            return ce(out, y)
        logits, *aux = out
        if len(aux) != len(weights):
            raise ValueError(f"the model returned {len(aux)} auxiliary output(s) besides its "
                             f"logits, but the recipe weighs {len(weights)} (aux_weights="
                             f"{weights}); give one weight per auxiliary classifier")
        total = ce(logits, y)
        for w, a in zip(weights, aux):
            total = total + w * ce(a, y)
        return total

    return loss


def ema_for(model: nn.Module, decay: float):
    """An exponential moving average of ``model``'s weights and buffers (BatchNorm statistics):
    ``avg ← decay·avg + (1 − decay)·w`` at each ``update_parameters(model)``, the first call
    copying the weights (``torch.optim.swa_utils``)."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
