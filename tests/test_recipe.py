"""utils.recipe: the Recipe, TensorFlow's RMSProp, the step and exponential schedules, auxiliary
losses and the moving average of the weights, each against numbers worked out by hand.
(Training with a recipe, its record and its checkpoint: tests/test_train.py.)"""

import dataclasses
import math

import pytest
import torch
from torch import nn

from utils import train
from utils.recipe import Recipe, RMSpropTF, ema_for, loss_for, make_optimizer, schedule_for


# --- the recipe ------------------------------------------------------------------------------------

def test_recipe_defaults_resolution_and_plain_dict():
    r = Recipe()
    assert (r.optimizer, r.momentum, r.nesterov, r.schedule) == ("sgd", 0.9, False, "onecycle")
    assert train.LEGACY == dataclasses.replace(r, nesterov=True)  # fit's keyword form, as before
    assert r.resolved(512).lr == pytest.approx(0.2) and r.resolved(512).warmup == 0.2
    assert Recipe(optimizer="adamw").resolved(512).lr == 1e-3
    assert Recipe(optimizer="rmsprop").resolved(4096).lr == pytest.approx(0.256)  # EfficientNet
    assert Recipe(schedule="cosine").resolved(128).warmup == 0.05
    assert Recipe(schedule="step", milestones=[30, 60]).resolved(128).warmup == 0.0
    d = Recipe(aux_weights=[0.3, 0.3], augment=["crop", "flip", "pca"]).to_dict()
    assert d["aux_weights"] == [0.3, 0.3] and d["augment"] == "crop, flip, pca"
    assert list(d) == [f.name for f in dataclasses.fields(Recipe)]          # stable order
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.lr = 0.1
    assert hash(Recipe(aux_weights=[0.3])) == hash(Recipe(aux_weights=(0.3,)))  # lists -> tuples


def test_recipe_rejects_what_it_cannot_do():
    for bad, words in ((dict(optimizer="adam"), "'sgd' or 'adamw'"),
                       (dict(schedule="linear"), "'step' or 'exponential'"),
                       (dict(warmup=1.0), "warmup"), (dict(schedule="step"), "milestones"),
                       (dict(ema=1.0), "ema"), (dict(lr=0.0), "positive")):
        with pytest.raises(ValueError, match=words):
            Recipe(**bad)


def test_recipe_prints_in_one_readable_line():
    line = str(Recipe(lr=0.05, aux_weights=(0.3, 0.3), ema=0.999, label_smoothing=0.1))
    assert "\n" not in line and line.startswith("Recipe: SGD, momentum 0.9;")
    for words in ("peak learning rate 0.05", "one-cycle schedule after a 20% linear warm-up",
                  "auxiliary losses weighted 0.3, 0.3", "decay 0.999",
                  "label smoothing 0.1", "augmentation: crop, flip"):
        assert words in line, (words, line)
    v3 = str(Recipe(optimizer="rmsprop", rms_eps=1.0, schedule="exponential", warmup=0))
    assert "epsilon 1 inside the square root" in v3 and "exponential schedule, ×0.94 every 2 epochs" in v3
    assert "step schedule, ×0.1 at 50% of the run, epoch 30" in str(
        Recipe(schedule="step", milestones=(0.5, 30)))
    assert "Nesterov" in str(train.LEGACY) and "by the default rule" in str(Recipe())


# --- TensorFlow's RMSProp ------------------------------------------------------------------------

def test_rmsprop_tf_matches_two_steps_worked_by_hand():
    """loss = 0.5·w₀ + 3·w₁: constant gradients g = (0.5, 3). TensorFlow's update, by hand:
    ms starts at 1; ms ← ρ·ms + (1 − ρ)·g²; mom ← μ·mom + η·g/√(ms + ε); w ← w − mom."""
    lr, rho, mu, eps = 0.1, 0.9, 0.9, 1.0
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    opt = RMSpropTF([w], lr=lr, alpha=rho, eps=eps, momentum=mu)
    g = (0.5, 3.0)
    expected, ms, mom, w_hand = [], [1.0, 1.0], [0.0, 0.0], [1.0, -2.0]
    for _ in range(2):
        for i in range(2):
            ms[i] = rho * ms[i] + (1 - rho) * g[i] ** 2
            mom[i] = mu * mom[i] + lr * g[i] / math.sqrt(ms[i] + eps)
            w_hand[i] -= mom[i]
        expected.append(list(w_hand))
    # step 1 written out for w₀: ms = 0.9 + 0.1·0.25 = 0.925; mom = 0.1·0.5/√1.925
    assert expected[0][0] == pytest.approx(1.0 - 0.05 / math.sqrt(1.925))
    for want in expected:
        opt.zero_grad()
        (0.5 * w[0] + 3.0 * w[1]).backward()
        opt.step()
        assert w.detach().tolist() == pytest.approx(want, abs=1e-6)
    # torch's RMSprop (ms from 0, ε outside the root) takes other steps from the same start
    v = torch.tensor([1.0, -2.0], requires_grad=True)
    torch_opt = torch.optim.RMSprop([v], lr=lr, alpha=rho, eps=eps, momentum=mu)
    (0.5 * v[0] + 3.0 * v[1]).backward()
    torch_opt.step()
    assert v.detach().tolist() != pytest.approx(expected[0], abs=1e-3)


def test_rmsprop_tf_weight_decay_is_l2_in_the_gradient():
    w = torch.tensor([2.0], requires_grad=True)
    opt = RMSpropTF([w], lr=0.1, alpha=0.9, eps=1.0, momentum=0.0, weight_decay=0.5)
    w.grad = torch.tensor([0.0])                 # only the decay: g = 0.5·2 = 1
    opt.step()
    assert w.item() == pytest.approx(2.0 - 0.1 * 1.0 / math.sqrt(0.9 + 0.1 + 1.0))


def test_make_optimizer_builds_the_recipes_optimiser():
    m = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    opt = make_optimizer(m, "rmsprop", batch_size=256, weight_decay=1e-5, rms_eps=1.0)
    assert isinstance(opt, RMSpropTF) and opt.param_groups[0]["eps"] == 1.0
    assert opt.param_groups[0]["lr"] == pytest.approx(0.016)
    assert sorted(g["weight_decay"] for g in opt.param_groups) == [0.0, 1e-5]
    plain = train.optimizer_for(m, Recipe(), 256)
    assert plain.param_groups[0]["nesterov"] is False                       # Recipe: plain
    assert train.optimizer_for(m, train.LEGACY, 256).param_groups[0]["nesterov"] is True


# --- schedules -----------------------------------------------------------------------------------

def lrs(recipe, steps_per_epoch, epochs):
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=recipe.lr)
    sched = schedule_for(opt, recipe, steps_per_epoch, epochs)
    out = []
    for _ in range(steps_per_epoch * epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_step_schedule_divides_by_ten_at_the_milestones():
    got = lrs(Recipe(lr=0.1, schedule="step", milestones=(2, 4)), steps_per_epoch=10, epochs=6)
    assert got[0] == got[19] == pytest.approx(0.1)                         # epochs 1-2
    assert got[20] == got[39] == pytest.approx(0.01)                       # epochs 3-4
    assert got[40] == got[59] == pytest.approx(0.001)
    half = lrs(Recipe(lr=0.1, schedule="step", milestones=(0.5,)), steps_per_epoch=10, epochs=6)
    assert half[29] == pytest.approx(0.1) and half[30] == pytest.approx(0.01)  # half the run
    warm = lrs(Recipe(lr=0.1, schedule="step", milestones=(4,), warmup=0.1), 10, 6)
    assert warm[0] == pytest.approx(0.004) and warm[3] == pytest.approx(0.1 * (0.04 + 0.48))
    assert warm[6] == pytest.approx(0.1) and warm[40] == pytest.approx(0.01)


def test_exponential_schedule_decays_every_few_epochs():
    """Inception v3: ×0.94 every 2 epochs, in steps (a staircase), from the first step."""
    got = lrs(Recipe(lr=0.1, schedule="exponential", decay_factor=0.94, decay_epochs=2),
              steps_per_epoch=10, epochs=7)
    for step, k in ((0, 0), (19, 0), (20, 1), (39, 1), (40, 2), (69, 3)):
        assert got[step] == pytest.approx(0.1 * 0.94 ** k), step
    odd = lrs(Recipe(lr=1.0, schedule="exponential", decay_factor=0.5, decay_epochs=2.5), 4, 6)
    assert odd[9] == 1.0 and odd[10] == 0.5 and odd[20] == 0.25                # every 10 steps


# --- the loss and the moving average ------------------------------------------------------------

class Toy(nn.Module):
    """Returns (logits, aux1, aux2) in training, as GoogLeNet does; logits in eval."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.heads = nn.ModuleList(nn.Linear(5, 10) for _ in range(3))

    def forward(self, x):
        out = tuple(h(x) for h in self.heads)
        return out if self.training else out[0]


def test_auxiliary_losses_are_weighted():
    model, x, y = Toy(), torch.randn(8, 5), torch.arange(8)
    ce = nn.functional.cross_entropy
    logits, a1, a2 = model(x)
    loss = loss_for(Recipe(aux_weights=(0.3, 0.3)))(model(x), y)
    assert loss.item() == pytest.approx((ce(logits, y) + 0.3 * ce(a1, y) + 0.3 * ce(a2, y)).item())
    smooth = loss_for(Recipe(aux_weights=(1.0, 0.0), label_smoothing=0.1))(model(x), y)
    assert smooth.item() == pytest.approx((ce(logits, y, label_smoothing=0.1)
                                           + ce(a1, y, label_smoothing=0.1)).item())
    model.eval()
    assert loss_for(Recipe(aux_weights=(0.3, 0.3)))(model(x), y).item() == \
        pytest.approx(ce(logits, y).item())                                 # logits alone
    model.train()
    with pytest.raises(ValueError, match="2 auxiliary output"):
        loss_for(Recipe(aux_weights=(0.3,)))(model(x), y)


def test_ema_weights_are_the_running_average():
    """avg₁ = w₁ (the first update copies); avgₖ = d·avgₖ₋₁ + (1 − d)·wₖ."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = ema_for(model, 0.9)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    by_hand = None
    for _ in range(4):
        opt.zero_grad()
        model(torch.randn(6, 3)).pow(2).sum().backward()
        opt.step()
        ema.update_parameters(model)
        now = {k: v.detach().clone() for k, v in model.state_dict().items()
               if v.is_floating_point()}
        by_hand = now if by_hand is None else {k: 0.9 * by_hand[k] + 0.1 * now[k] for k in now}
    averaged = ema.module.state_dict()
    for k, v in by_hand.items():                              # weights and BatchNorm statistics
        assert torch.allclose(averaged[k], v, atol=1e-6), k
    assert not torch.allclose(averaged["0.weight"], model[0].weight)
