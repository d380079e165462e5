"""utils/layers/senet.py: the SE block is torchvision's and the chapter's, SE-ResNet-50 is timm's
seresnet50, and the counts are the paper's (Hu et al., 2018/2020: Eq. 5, Tables 1, 2, 10, 13).

Full-size networks are compared on the meta device (counts and layout, no memory); outputs with
random weights (``build``) on a small input.
"""

import pytest
import torch
import torchvision

from tests.layer_checks import build, chapter_definitions
from utils import arithmetic
from utils.layers.bn_inception import BNInception, InceptionBN
from utils.layers.common import SqueezeExcitation
from utils.layers.googlenet import GOOGLENET_TABLE, Inception
from utils.layers.reference import same_as_reference
from utils.layers.resnet import (BasicBlock, Bottleneck, ResNet, resnet18_cifar, resnet50,
                                 resnet_cifar)
from utils.layers.senet import (SEBlock, SEInception, SEResNetCIFAR, add_se, se_factory,
                                se_parameters, se_resnet18_cifar, se_resnet50, se_resnet_cifar)

timm = pytest.importorskip("timm")

STAGES_50 = [(3, 256), (4, 512), (6, 1024), (3, 2048)]       # Table 1: blocks, output channels


def _params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("channels, shape", [(64, (64, 8, 8)), (256, (256, 7, 5)), (32, (32, 1, 1))])
def test_se_block_is_torchvisions_and_commons(channels, shape):
    for reference in (torchvision.ops.SqueezeExcitation(channels, channels // 16),
                      SqueezeExcitation(channels, channels // 16)):
        check = same_as_reference(SEBlock(channels), reference, shape)
        check.assert_ok()
        assert check.same_output is True


def test_se_block_is_the_chapters():
    """The chapter writes the block from Eqs. 2-4 with nn.Linear; same weights, same output."""
    ns = chapter_definitions("12_senet", "SqueezeExcite")
    for channels, hw in ((64, 8), (128, 3)):
        torch.manual_seed(0)
        theirs, ours = ns["SqueezeExcite"](channels), SEBlock(channels)
        assert _params(theirs) == _params(ours)
        with torch.no_grad():
            ours.fc1.weight.copy_(theirs.W1.weight[:, :, None, None])
            ours.fc1.bias.copy_(theirs.W1.bias)
            ours.fc2.weight.copy_(theirs.W2.weight[:, :, None, None])
            ours.fc2.bias.copy_(theirs.W2.bias)
            u = torch.randn(3, channels, hw, hw)
            assert torch.allclose(ours(u), theirs(u), atol=1e-6)


def test_se_block_widths_and_gate():
    assert SEBlock(256).squeeze_channels == 16 and SEBlock(16).squeeze_channels == 1
    assert SEBlock(64, 4).squeeze_channels == 16 and SEBlock(64, squeeze_channels=8).squeeze_channels == 8
    assert _params(SEBlock(64, bias=False)) == 2 * 64 * 4
    block = SEBlock(32)
    u = torch.randn(2, 32, 6, 6)
    s = block.excitation(block.squeeze(u))
    assert s.shape == (2, 32, 1, 1) and ((s > 0) & (s < 1)).all()
    assert torch.allclose(block(u), u * s)


def test_se_resnet50_is_timms():
    with torch.device("meta"):
        check = same_as_reference(se_resnet50(), timm.create_model("seresnet50"))
    check.assert_ok()
    assert check.params == (28_088_024, 28_088_024)
    assert all(k == v for k, v in check.mapping.items())
    check = same_as_reference(build(se_resnet50, seed=None),
                              build(lambda: timm.create_model("seresnet50")), (3, 64, 64), batch=1)
    check.assert_ok()
    assert check.same_output is True


@pytest.mark.parametrize("name, blocks, params", [("seresnet101", [3, 4, 23, 3], 49_326_872),
                                                  ("seresnet152", [3, 8, 36, 3], 66_821_848)])
def test_deeper_se_resnets_are_timms(name, blocks, params):
    with torch.device("meta"):
        check = same_as_reference(ResNet(Bottleneck, blocks, se=se_factory(16)),
                                  timm.create_model(name))
    check.assert_ok()
    assert check.params == (params, params)


def test_equation_5_and_the_papers_counts():
    """Eq. 5: (2/r) Σ N_s C_s² weights; with biases the exact difference to ResNet-50. Table 13's
    parameter column (one stage at a time) and Table 10's (r = 2 … 32, no biases) to 0.1 M."""
    assert se_parameters(STAGES_50, bias=False) == 2 * sum(n * c * c for n, c in STAGES_50) // 16 == 2_514_944
    with torch.device("meta"):
        r50, se50 = resnet50(), se_resnet50()
    assert se_parameters(STAGES_50) == _params(se50) - _params(r50) == 2_530_992
    base = _params(r50)
    table_13 = [25.6, 25.7, 26.4]                         # SE in conv2_x, conv3_x, conv4_x only
    computed = [round((base + se_parameters([st])) / 1e6, 2) for st in STAGES_50[:3]]
    assert computed == [25.58, 25.69, 26.35]              # the paper prints 26.35 M as 26.4 M
    assert all(abs(c - t) < 0.06 for c, t in zip(computed, table_13))
    table_10 = {2: 45.7, 4: 35.7, 8: 30.7, 16: 28.1, 32: 26.9}
    computed = {r: round((base + se_parameters(STAGES_50, r, bias=False)) / 1e6, 1) for r in table_10}
    assert computed == {2: 45.7, 4: 35.6, 8: 30.6, 16: 28.1, 32: 26.8}   # three printed 0.1 M higher
    assert all(abs(computed[r] - printed) <= 0.1 + 1e-9 for r, printed in table_10.items())


def test_multiply_adds():
    """The counter sees the FC layers (one multiply-add per weight on the 1×1 map): the paper's
    v1 goes from 3,857,973,248 to 3,860,488,192; timm's v1.5 to 4,091,699,200."""
    with torch.device("meta"):
        v1, v15 = se_resnet50(stride_on="conv1"), se_resnet50()
    assert arithmetic.summary(v1, (3, 224, 224)).macs == 3_857_973_248 + 2_514_944
    assert arithmetic.summary(v15, (3, 224, 224)).macs == 4_089_184_256 + 2_514_944


def test_se_resnet_cifar():
    model = se_resnet_cifar(20)
    assert isinstance(model, SEResNetCIFAR) and _params(model) == 272_095
    assert _params(model) - _params(resnet_cifar(20)) == 147 + 486 + 1_740
    assert [b.se.squeeze_channels for b in (model.layer1[0], model.layer2[0], model.layer3[0])] == [1, 2, 4]
    plain = se_resnet_cifar(20, se=False)
    assert list(plain.state_dict()) == list(resnet_cifar(20).state_dict())
    assert _params(plain) == 269_722
    x = torch.randn(2, 3, 32, 32)
    assert model.eval()(x).shape == (2, 10)
    assert _params(se_resnet_cifar(20, reduction=4)) - 269_722 == 8_484
    with pytest.raises(ValueError, match="depth"):
        se_resnet_cifar(21)


def test_same_layers_start_equal():
    """The chapter's experiment copies ResNet-20's weights into SE-ResNet-20: only SE is new."""
    torch.manual_seed(0)
    plain = resnet_cifar(20)
    model = se_resnet_cifar(20)
    missing = model.load_state_dict(plain.state_dict(), strict=False)
    assert not missing.unexpected_keys and all(".se." in k for k in missing.missing_keys)
    with torch.no_grad():                                 # SE weights at 1 / 2 everywhere: s = 1/2
        for b in (*model.layer1, *model.layer2, *model.layer3):
            for fc in (b.se.fc1, b.se.fc2):
                torch.nn.init.zeros_(fc.weight)
                torch.nn.init.zeros_(fc.bias)
        x = torch.randn(2, 3, 32, 32)
        s = model.layer1[0].se.excitation(model.layer1[0].se.squeeze(torch.randn(1, 16, 4, 4)))
    assert torch.allclose(s, torch.full_like(s, 0.5))


def test_se_resnet18_cifar():
    assert _params(se_resnet18_cifar()) == 11_263_042
    assert _params(se_resnet18_cifar()) - _params(resnet18_cifar()) == se_parameters(
        [(2, 64), (2, 128), (2, 256), (2, 512)])
    assert BasicBlock(64, 64, se=se_factory(16)).se.squeeze_channels == 4


def test_se_inception():
    inception = Inception(*GOOGLENET_TABLE["3a"], batch_norm=True)
    block = SEInception(inception)
    assert block.out_channels == 256 and _params(block.se) == 8_464
    assert _params(block) == _params(inception) + 8_464
    x = torch.randn(2, 192, 7, 7)
    assert block.eval()(x).shape == (2, 256, 7, 7)
    with torch.device("meta"):
        net = add_se(BNInception(), InceptionBN)
        plain = BNInception()
    wrapped = [m for m in net.modules() if isinstance(m, SEInception)]
    assert len(wrapped) == 10 and _params(net) - _params(plain) == 646_398
