"""utils/layers/googlenet.py: GoogLeNet (Szegedy et al., 2015), the paper's and torchvision's.

- ``GoogLeNet(variant="torchvision")`` is ``torchvision.models.googlenet(weights=None)``: same
  modules, state dict, initial weights for a seed, outputs (evaluation and training mode);
- Table 1's channel arithmetic: each module's output feeds the next one;
- the paper's variant: parameters and multiply-adds worked out by hand from Table 1, and the
  difference from torchvision's variant explained term by term (5×5 → 3×3, bias → batch norm).
"""

import pytest
import torch
import torchvision

from tests.layer_checks import build, same_init
from utils.arithmetic import summary
from utils.layers import same_as_reference
from utils.layers.googlenet import (GOOGLENET_TABLE, GoogLeNet, GoogLeNetOutputs, Inception,
                                    InceptionAux, cifar_table, googlenet_cifar)
from utils.recipe import Recipe, loss_for

# Table 1's output sizes of the nine modules, and the side of their (square) maps at 224×224.
OUTPUTS = {"3a": 256, "3b": 480, "4a": 512, "4b": 512, "4c": 512, "4d": 528, "4e": 832,
           "5a": 832, "5b": 1024}
SIDE = {"3": 28, "4": 14, "5": 7}


def count(model):
    return sum(p.numel() for p in model.parameters())


def torchvisions(**kwargs):
    return lambda: torchvision.models.googlenet(weights=None, aux_logits=True,
                                                init_weights=True, **kwargs)


def ours(**kwargs):
    return lambda: GoogLeNet(variant="torchvision", aux_logits=True, **kwargs)


@pytest.mark.parametrize("transform_input", [False, True])
def test_torchvision_variant_is_torchvisions_googlenet(transform_input):
    with torch.device("meta"):
        a, b = ours(transform_input=transform_input)(), torchvisions(
            transform_input=transform_input)()
        full_size = same_as_reference(a, b).assert_ok()
    assert full_size.params == (13_004_888, 13_004_888)
    assert [n for n, _ in a.named_modules()] == [n for n, _ in b.named_modules()]
    assert list(a.state_dict()) == list(b.state_dict())
    assert b.transform_input is transform_input          # weights=None keeps what it is given
    check = same_as_reference(build(ours(transform_input=transform_input), seed=None),
                              build(torchvisions(transform_input=transform_input)),
                              (3, 64, 64), batch=2).assert_ok()
    assert check.same_output is True                     # compared, not skipped


def test_torchvision_variant_same_initial_weights_and_training_outputs():
    assert same_init(ours(), torchvisions())
    a, b = build(ours(), seed=None), build(torchvisions())
    a.load_state_dict(b.state_dict())
    a.train(), b.train()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    out_a = a(x)
    torch.manual_seed(0)                                 # same dropout masks, same order
    out_b = b(x)
    assert out_b._fields == ("logits", "aux_logits2", "aux_logits1")   # torchvision's order
    torch.testing.assert_close(out_a.logits, out_b.logits)
    torch.testing.assert_close(out_a.aux1, out_b.aux_logits1)
    torch.testing.assert_close(out_a.aux2, out_b.aux_logits2)


def test_table1_channel_arithmetic():
    previous = 192                                       # conv3's output
    for name, (c_in, ch1, _, ch3, _, ch5, proj) in GOOGLENET_TABLE.items():
        assert c_in == previous, name
        assert ch1 + ch3 + ch5 + proj == OUTPUTS[name], name
        previous = OUTPUTS[name]
    assert GOOGLENET_TABLE["3a"] == (192, 64, 96, 128, 16, 32, 32)     # 64+128+32+32 = 256
    with torch.device("meta"):
        model = GoogLeNet().eval()
        assert all(getattr(model, f"inception{n}").out_channels == OUTPUTS[n] for n in OUTPUTS)
        assert model(torch.empty(1, 3, 224, 224)).shape == (1, 1000)
        x = model.inception3a.branch3(torch.empty(1, 192, 28, 28))   # a true 5×5, size kept
    assert model.inception3a.branch3[1].conv.kernel_size == (5, 5) and x.shape[-1] == 28


def table_weights(fifth_kernel=5):
    """The weights (no biases) of the network without auxiliary heads, by hand from Table 1."""
    stem = 7 * 7 * 3 * 64 + 1 * 1 * 64 * 64 + 3 * 3 * 64 * 192
    modules = sum(c_in * (ch1 + r3 + r5 + proj) + 9 * r3 * ch3 + fifth_kernel ** 2 * r5 * ch5
                  for c_in, ch1, r3, ch3, r5, ch5, proj in GOOGLENET_TABLE.values())
    return stem + modules + 1024 * 1000


def conv_channels():
    """Output channels of every convolution (a bias each, or batch norm's γ and β each)."""
    return 64 + 64 + 192 + sum(sum(row[1:]) for row in GOOGLENET_TABLE.values())


def test_paper_variant_parameters():
    with torch.device("meta"):
        paper = GoogLeNet(aux_logits=False)
        tv = GoogLeNet(aux_logits=False, variant="torchvision")
        paper_aux, tv_aux = GoogLeNet(), GoogLeNet(variant="torchvision")
    weights = sum(p.numel() for n, p in paper.named_parameters() if n.endswith("weight"))
    assert weights == table_weights() == 6_990_272
    assert conv_channels() == 7_280                      # 57 convolutions
    assert count(paper) == 6_990_272 + 7_280 + 1000 == 6_998_552
    assert count(tv) == 6_624_904                        # torchvision's num_params
    # torchvision − paper: 3×3 instead of 5×5 in the nine fifth branches (16 weights fewer per
    # input-output pair), and batch norm (γ, β) instead of a bias after every convolution.
    fifth = sum(r5 * ch5 for *_, r5, ch5, _ in GOOGLENET_TABLE.values())
    assert fifth == 23_808
    assert count(tv) - count(paper) == -16 * fifth + conv_channels() == -373_648
    # each auxiliary head: conv 1×1 → 128, FC 2048 → 1024, FC 1024 → 1000
    head = lambda c: c * 128 + 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000  # noqa: E731
    assert count(paper_aux) - count(paper) == head(512) + head(528) == 6_379_728
    assert count(tv_aux) - count(paper_aux) == -373_648 + 2 * 128         # BN in the heads too


def test_paper_variant_multiply_adds():
    paper = summary(GoogLeNet(aux_logits=False).eval(), (3, 224, 224))
    tv = summary(GoogLeNet(aux_logits=False, variant="torchvision").eval(), (3, 224, 224))
    assert paper.params == 6_998_552
    stem = 112 ** 2 * 64 * 7 * 7 * 3 + 56 ** 2 * (64 * 64 + 192 * 64 * 9)
    modules = sum(SIDE[name[0]] ** 2 * (c_in * (ch1 + r3 + r5 + proj) + 9 * r3 * ch3
                                        + 25 * r5 * ch5)
                  for name, (c_in, ch1, r3, ch3, r5, ch5, proj) in GOOGLENET_TABLE.items())
    assert paper.macs == stem + modules + 1024 * 1000 == 1_582_671_872
    # "about 1.5 billion multiply-adds" (§5): 1.58e9, 5.5 % above; conv1 alone is 118,013,952.
    assert abs(paper.macs / 1.5e9 - 1) < 0.06
    # 3×3 instead of 5×5: 16 multiply-adds fewer per pixel per (reduce, output) channel pair.
    saved = sum(SIDE[name[0]] ** 2 * 16 * r5 * ch5
                for name, (*_, r5, ch5, _) in GOOGLENET_TABLE.items())
    assert paper.macs - tv.macs == saved == 84_295_680
    assert tv.macs == 1_498_376_192


@pytest.mark.parametrize("variant", ["paper", "torchvision"])
def test_auxiliary_outputs(variant):
    model = build(lambda: GoogLeNet(num_classes=10, variant=variant))
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model.train()(x)
        assert isinstance(out, tuple) and len(out) == 3
        assert out._fields == ("logits", "aux1", "aux2")
        assert all(t.shape == (2, 10) for t in out)
        out = model.eval()(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 10)
    no_heads = build(lambda: GoogLeNet(num_classes=10, variant=variant, aux_logits=False))
    with torch.no_grad():
        assert no_heads.train()(x[:, :, :96, :96]).shape == (2, 10)


def test_aux_head_pooling():
    """The paper's head pools 5×5 windows with stride 3, torchvision's 4×4 adaptive ones: both
    give 4×4 maps on 14×14 inputs, but not the same ones."""
    torch.manual_seed(0)
    paper, tv = InceptionAux(512, 10).eval(), InceptionAux(512, 10, adaptive_pool=True).eval()
    tv.load_state_dict(paper.state_dict())
    x = torch.randn(1, 512, 14, 14)
    with torch.no_grad():
        assert not torch.allclose(paper(x), tv(x))
        assert torch.nn.functional.avg_pool2d(x, 5, stride=3).shape[-2:] == (4, 4)


def test_inception_options():
    a = Inception(192, 64, 96, 128, 16, 32, 32)
    b = Inception(192, 64, 96, 128, 16, 32, 32, fifth_kernel=3, batch_norm=True)
    assert a.out_channels == b.out_channels == 256
    assert count(a) - count(b) == 16 * 16 * 32 - (64 + 96 + 128 + 16 + 32 + 32)
    assert a.branch1.bn is None and a.branch1.conv.bias is not None
    assert b.branch1.bn.eps == 0.001 and b.branch1.conv.bias is None
    with pytest.raises(ValueError):
        Inception(192, 64, 96, 128, 16, 32, 32, fifth_kernel=7)
    with pytest.raises(ValueError):
        GoogLeNet(variant="caffe")


def test_cifar_table_halves_table1_and_chains():
    table = cifar_table(0.5)
    assert table["3a"] == (96, 32, 48, 64, 8, 16, 16)
    previous = 96
    for name, (c_in, ch1, _, ch3, _, ch5, proj) in table.items():
        assert c_in == previous, name
        previous = ch1 + ch3 + ch5 + proj
        assert previous == OUTPUTS[name] // 2, name
    assert cifar_table(1.0) == {n: (OUTPUTS_IN[n], *row[1:]) for n, row in GOOGLENET_TABLE.items()}


OUTPUTS_IN = {"3a": 192, **{n: OUTPUTS[p] for p, n in zip(OUTPUTS, list(OUTPUTS)[1:])}}


def test_cifar_network_counts_and_maps():
    """The chapter's numbers: 1,502,490 parameters and 120,370,176 multiply-adds without heads,
    306,964 in the two heads; modules on 16, 8 and 4 pixels; true 5×5 branches."""
    model = googlenet_cifar(aux_logits=False)
    s = summary(model, (3, 32, 32), blocks=True)
    assert s.params == 1_502_490 and s.macs == 120_370_176
    assert count(googlenet_cifar()) - s.params == 306_964
    sides = {r.name: r.out_shape[-1] for r in s.grouped if r.name.startswith("inception")}
    assert [sides[f"inception{n}"] for n in GOOGLENET_TABLE] == [16, 16, 8, 8, 8, 8, 8, 4, 4]
    assert model.inception3a.branch3[1].conv.kernel_size == (5, 5)
    assert model.inception3a.branch1.bn is not None
    plain = googlenet_cifar(batch_norm=False)
    assert plain.conv1.bn is None and plain.conv1.conv.bias is not None


def test_cifar_network_training_outputs_and_recipe_loss():
    torch.manual_seed(0)
    model = googlenet_cifar()
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    out = model.train()(x)
    assert isinstance(out, GoogLeNetOutputs) and all(t.shape == (4, 10) for t in out)
    loss = loss_for(Recipe(aux_weights=(0.3, 0.3)))(out, y)
    ce = torch.nn.functional.cross_entropy
    torch.testing.assert_close(loss, ce(out.logits, y) + 0.3 * ce(out.aux1, y) + 0.3 * ce(out.aux2, y))
    loss.backward()
    assert model.aux1.fc2.weight.grad is not None and model.conv1.conv.weight.grad is not None
    with torch.no_grad():
        assert model.eval()(x).shape == (4, 10)
        assert googlenet_cifar(aux_logits=False).train()(x).shape == (4, 10)
    with pytest.raises(ValueError):
        loss_for(Recipe())(out, y)                          # three outputs, no weights given


def test_aux_head_options():
    head = InceptionAux(256, 10, conv_channels=64, hidden=512, grid=2)
    assert head.fc1.in_features == 64 * 2 * 2 and head.fc2.in_features == 512
    with torch.no_grad():
        assert head.eval()(torch.randn(1, 256, 8, 8)).shape == (1, 10)   # 5×5/3 pooling: 8 → 2
