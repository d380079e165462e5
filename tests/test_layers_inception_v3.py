"""utils/layers/inception_v3.py: Inception v3 (Szegedy et al., 2016) and its CIFAR-10 reduction.

- ``InceptionV3`` is ``torchvision.models.inception_v3(weights=None)``: same modules, state dict,
  initial weights for a seed, outputs (evaluation and training mode), with and without the
  auxiliary head: 27,161,264 and 23,834,568 parameters, 5.71 G multiply-adds at 299×299;
- the paper's module kinds map onto torchvision's five classes, and the grids are 35, 17, 8;
- the chapter's label smoothing, written from the formula, is PyTorch's;
- the CIFAR-10 network: its grids (32, 16, 8), outputs, parameters and multiply-adds.
"""

import pytest
import torch
import torchvision
from torch import nn

from tests.layer_checks import build, chapter_definitions, same_init
from utils.arithmetic import summary
from utils.layers import same_as_reference
from utils.layers.inception_v3 import (TORCHVISION_CLASSES, AuxiliaryClassifier, GridReduction17,
                                       GridReduction35, InceptionFig5, InceptionFig6,
                                       InceptionFig7, InceptionOutputs, InceptionV3,
                                       inception_v3, inception_v3_cifar)

PARAMS = {True: 27_161_264, False: 23_834_568}      # with and without the auxiliary head


def torchvisions(**kwargs):
    return lambda: torchvision.models.inception_v3(weights=None, init_weights=True, **kwargs)


def ours(**kwargs):
    return lambda: InceptionV3(**kwargs)


@pytest.mark.parametrize("aux_logits", [True, False])
def test_inception_v3_is_torchvisions(aux_logits):
    with torch.device("meta"):
        a, b = ours(aux_logits=aux_logits)(), torchvisions(aux_logits=aux_logits)()
        check = same_as_reference(a, b).assert_ok()
    assert check.params == (PARAMS[aux_logits],) * 2
    assert [n for n, _ in a.named_modules()] == [n for n, _ in b.named_modules()]
    assert list(a.state_dict()) == list(b.state_dict())
    check = same_as_reference(build(ours(aux_logits=aux_logits), seed=None),
                              build(torchvisions(aux_logits=aux_logits)), (3, 75, 75), batch=2)
    assert check.assert_ok().same_output is True


def test_same_initial_weights_and_training_outputs():
    assert same_init(ours(), torchvisions())
    a, b = build(ours(), seed=None), build(torchvisions())
    a.load_state_dict(b.state_dict())
    a.train(), b.train()
    # the head's 5×5/3 pooling and 5×5 convolution need the 17×17 grid: a 299×299 input
    x = torch.randn(2, 3, 299, 299, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    out_a = a(x)
    torch.manual_seed(0)                                  # same dropout mask
    out_b = b(x)
    assert isinstance(out_a, InceptionOutputs) and out_a._fields == out_b._fields
    torch.testing.assert_close(out_a.logits, out_b.logits)
    torch.testing.assert_close(out_a.aux_logits, out_b.aux_logits)
    a.eval()
    assert a(x).shape == (2, 1000)                        # the logits alone at inference


def test_transform_input_is_torchvisions():
    a = build(ours(transform_input=True), seed=None)
    b = build(torchvisions(transform_input=True))
    same_as_reference(a, b, (3, 75, 75), batch=1).assert_ok()


def test_the_heads_initialisation_is_torchvisions_quirk():
    # torchvision's stddev = 0.01 sits on the BasicConv2d, so its Conv2d gets the default 0.1
    torch.manual_seed(0)
    head = InceptionV3().AuxLogits
    assert head.conv1.stddev == 0.01 and not hasattr(head.conv1.conv, "stddev")
    assert 0.05 < head.conv1.conv.weight.std().item() < 0.15
    assert head.fc.weight.std().item() < 0.002


def test_cost_at_299_and_the_grids():
    with torch.device("meta"):
        model = inception_v3()
    s = summary(model, (3, 299, 299))
    assert s.params == PARAMS[True] and s.macs == 5_713_216_096
    torchvision_gflops = torchvision.models.Inception_V3_Weights.IMAGENET1K_V1.meta["_ops"]
    assert round(s.macs / 1e9, 3) == torchvision_gflops
    grids = {name: s.blocks().grouped[[r.name for r in s.blocks().grouped].index(name)].out_shape
             for name in ("Mixed_5d", "Mixed_6a", "Mixed_6e", "Mixed_7a", "Mixed_7c")}
    assert grids == {"Mixed_5d": (288, 35, 35), "Mixed_6a": (768, 17, 17),
                     "Mixed_6e": (768, 17, 17), "Mixed_7a": (1280, 8, 8),
                     "Mixed_7c": (2048, 8, 8)}


def test_module_kinds_map_to_torchvisions_classes():
    with torch.device("meta"):
        a, b = InceptionV3(), torchvision.models.inception_v3(weights=None, init_weights=True)
    theirs = dict(b.named_modules())
    for name, m in a.named_modules():
        if name and type(theirs[name]).__name__ in TORCHVISION_CLASSES:
            assert TORCHVISION_CLASSES[type(theirs[name]).__name__] == type(m).__name__, name
    kinds = [type(getattr(a, f"Mixed_{n}")) for n in
             ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c")]
    assert kinds == [InceptionFig5] * 3 + [GridReduction35] + [InceptionFig6] * 4 + \
        [GridReduction17] + [InceptionFig7] * 2
    assert isinstance(a.AuxLogits, AuxiliaryClassifier)
    # the channel arithmetic of each kind, as torchvision's modules have it
    assert [a.Mixed_5b.out_channels, a.Mixed_5c.out_channels, a.Mixed_6a.out_channels,
            a.Mixed_7a.out_channels, a.Mixed_7b.out_channels] == [256, 288, 768, 1280, 2048]


def test_factorised_module_saves_what_the_paper_says():
    # §3.2: 1×n + n×1 costs 2/n of an n×n; Figure 6's 1×7 layer
    m = InceptionFig6(768, channels_7x7=128)
    assert m.branch7x7_2.conv.weight.shape == (128, 128, 1, 7)
    assert m.branch7x7_3.conv.weight.shape == (192, 128, 7, 1)
    x = torch.randn(1, 768, 17, 17)
    assert m.eval()(x).shape == (1, 768, 17, 17)


def test_chapters_label_smoothing_is_pytorchs():
    ns = chapter_definitions("07_inception_v3", "smoothed_cross_entropy")
    g = torch.Generator().manual_seed(0)
    for K in (10, 1000):
        logits, labels = torch.randn(16, K, generator=g), torch.randint(0, K, (16,), generator=g)
        for eps in (0.0, 0.1, 0.3):
            torch.testing.assert_close(ns["smoothed_cross_entropy"](logits, labels, eps),
                                       nn.CrossEntropyLoss(label_smoothing=eps)(logits, labels))


def test_cifar_network():
    torch.manual_seed(0)
    model = inception_v3_cifar(aux_logits=True)
    s = summary(model, (3, 32, 32))
    head = sum(p.numel() for p in model.AuxLogits.parameters())
    assert (s.params, s.params - head, s.macs) == (843_956, 737_130, 155_407_360)
    grids = {r.name: r.out_shape for r in s.blocks().grouped}
    assert grids["mixed_5.1"] == (72, 32, 32) and grids["Mixed_6a"] == (192, 16, 16)
    assert grids["mixed_6.1"] == (192, 16, 16) and grids["Mixed_7a"] == (320, 8, 8)
    assert grids["mixed_7.0"] == (512, 8, 8)
    x = torch.randn(4, 3, 32, 32)
    out = model.train()(x)
    assert isinstance(out, InceptionOutputs)
    assert out.logits.shape == out.aux_logits.shape == (4, 10)
    assert model.eval()(x).shape == (4, 10)
    assert inception_v3_cifar().AuxLogits is None
    assert inception_v3_cifar().train()(x).shape == (4, 10)
