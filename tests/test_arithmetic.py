"""Tests of utils.arithmetic (utils.formulas, utils.summary, utils.receptive, utils.kinds):
hand-checked numbers, impossible arguments refused, torchvision reference models, the
self-checks of ``summary`` (they must really fire), block folding, comparison tables,
receptive fields and shape errors."""

import math

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import utils.arithmetic as ar
import utils.formulas as formulas  # where summary() looks its formulas up (monkeypatched below)


def meta_alexnet():
    """The paper's AlexNet on the meta device: shapes without memory or compute, so a summary
    costs next to nothing (test_real_forward_agrees_with_meta shows this changes nothing)."""
    with torch.device("meta"):
        return alexnet_paper()


def alexnet_paper(num_classes=1000):
    """The single-tower ImageNet AlexNet with the paper's channel counts (96, 256, 384, 384, 256)."""
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True),
        nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(inplace=True),
        nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, num_classes))


# --- hand-checked values ------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected, text", [
    ((227, 11, 4), 55, "(227 − 11 + 2·0)/4 + 1 = 55"),
    ((55, 3, 2), 27, "(55 − 3 + 2·0)/2 + 1 = 27"),
    ((27, 5, 1, 2), 27, "(27 − 5 + 2·2)/1 + 1 = 27"),
    ((13, 3, 2), 6, "(13 − 3 + 2·0)/2 + 1 = 6"),
    ((32, 5), 28, "(32 − 5 + 2·0)/1 + 1 = 28"),
])
def test_conv_out_hand_checked(args, expected, text):
    w = ar.conv_out(*args)
    assert w == expected and int(w) == expected and w.exact and not w.note
    assert w.text == text == str(w) == f"{w}"


def test_224_is_not_exact_and_says_why():
    w = ar.conv_out(224, 11, 4)
    assert w == 54 and not w.exact
    assert w.text == "(224 − 11 + 2·0)/4 + 1 = 54.25 → 54"
    assert "54.25 is not a whole number" in w.note and "floors it to 54" in w.note
    assert r"\lfloor" in w.latex


def test_dilation_widens_the_window():
    w = ar.conv_out(32, 3, 1, 0, dilation=2)  # effective kernel 2·(3 − 1) + 1 = 5
    assert w == 28 and "(2·(3 − 1) + 1)" in w.text
    assert w == nn.Conv2d(1, 1, 3, dilation=2)(torch.zeros(1, 1, 32, 32)).shape[-1]


@pytest.mark.parametrize("size, k, s, p, d, ceil", [
    (size, k, s, p, d, ceil)
    for size in (1, 2, 5, 6, 7, 8, 13, 14, 55, 112)
    for k, s, p, d in ((2, 2, 0, 1), (3, 2, 0, 1), (3, 2, 1, 1), (3, 3, 1, 1), (2, 2, 1, 1),
                       (3, 2, 1, 2), (5, 3, 2, 1), (1, 2, 0, 1))
    for ceil in (False, True)
])
def test_pool_out_matches_pytorch(size, k, s, p, d, ceil):
    """pool_out equals PyTorch's own output size, including its ceil_mode rule that the last
    window must start inside the input or the left padding."""
    pool = nn.MaxPool1d(k, s, p, dilation=d, ceil_mode=ceil)
    try:
        expected = pool(torch.zeros(1, 1, size)).shape[-1]
    except RuntimeError:  # PyTorch refuses an empty output, and so does pool_out
        with pytest.raises(ValueError, match="kernel .* does not fit"):
            ar.pool_out(size, k, s, p, d, ceil)
        return
    w = ar.pool_out(size, k, s, p, d, ceil)
    assert w.value == expected, w.text


def test_ceil_mode_drops_a_window_that_starts_in_the_padding():
    # (6 − 2 + 2·1)/2 + 1 = 4 exactly, so no rounding; with stride 4: (6 + 2 − 2)/4 = 1.5 → ⌈⌉ 3,
    # but the third window would start at 2·4 = 8 ≥ 6 + 1: PyTorch keeps 2.
    w = ar.pool_out(6, 2, 4, 1, ceil_mode=True)
    expected = nn.MaxPool1d(2, 4, 1, ceil_mode=True)(torch.zeros(1, 1, 6)).shape[-1]
    assert w == expected == 2 and "drops the last window" in w.note


def test_googlenet_ceil_mode_pool():
    w = ar.pool_out(112, 3, 2, ceil_mode=True)
    assert w == 56 and not w.exact and "rounds it up to 56" in w.note


def test_pool_stride_defaults_to_kernel_and_rejects_big_padding():
    assert ar.pool_out(28, 2) == 14
    with pytest.raises(ValueError, match="half"):
        ar.pool_out(28, 2, 2, padding=2)


def test_alexnet_conv1_params_and_macs():
    p = ar.conv_params(3, 96, 11)
    assert p == 34_944 and p.text == "(11·11·3 + 1)·96 = 34,944"
    assert ar.conv_params(3, 96, 11, bias=False) == 34_848
    m = ar.conv_macs(55, 55, 3, 96, 11)
    assert m == 55 * 55 * 96 * (11 * 11 * 3) == 105_415_200
    assert m.text == "55·55·96·(11·11·3) = 105,415,200"


def test_grouped_conv_is_alexnets_two_towers():
    # conv2 in the paper: 256 filters of 5×5×48, the 96 inputs split over two GPUs.
    p = ar.conv_params(96, 256, 5, groups=2)
    assert p == (5 * 5 * 48 + 1) * 256 == nn.Conv2d(96, 256, 5, groups=2).weight.numel() + 256
    assert "96/2" in p.text
    assert ar.conv_macs(27, 27, 96, 256, 5, groups=2) == 27 * 27 * 256 * 5 * 5 * 48
    with pytest.raises(ValueError, match="groups"):
        ar.conv_params(96, 256, 5, groups=5)


def test_inception_5x5_branch_reduction():
    direct = ar.conv_params(192, 96, 5, bias=False)
    reduced = ar.conv_params(192, 32, 1, bias=False) + ar.conv_params(32, 96, 5, bias=False)
    assert direct == 460_800 and reduced == 82_944
    assert 5.5 < direct / reduced < 5.6


def test_other_parameter_formulas_match_modules():
    def count(m):
        return sum(p.numel() for p in m.parameters())
    assert ar.linear_params(9216, 4096) == count(nn.Linear(9216, 4096)) == 37_752_832
    assert ar.linear_params(10, 3, bias=False) == 30
    bn = nn.BatchNorm2d(64)
    assert ar.bn_params(64) == count(bn) == 128 and "buffers" in ar.bn_params(64).note
    assert sum(b.numel() for b in bn.buffers()) == 2 * 64 + 1  # + num_batches_tracked
    assert ar.depthwise_params(32, 3) == count(nn.Conv2d(32, 32, 3, groups=32)) == 320
    assert ar.depthwise_params(32, 3, bias=False) == 288
    from torchvision.ops import SqueezeExcitation
    assert ar.se_params(64, 16) == count(SqueezeExcitation(64, 16)) == 2_128
    assert ar.conv_params(8, 8, (1, 7)) == count(nn.Conv2d(8, 8, (1, 7)))


def test_stacked_3x3_convs():
    c = 64
    assert 2 * ar.conv_params(c, c, 3, bias=False) == 2 * 9 * c * c < ar.conv_params(c, c, 5, bias=False)
    three, seven = 3 * ar.conv_params(c, c, 3, bias=False), ar.conv_params(c, c, 7, bias=False)
    assert three == 27 * c * c < seven == 49 * c * c


def test_worked_behaves_like_its_value():
    w = ar.conv_out(227, 11, 4)
    assert w + 1 == 56 and 1 + w == 56 and w * 2 == 110 and 2 * w == 110 and w - 5 == 50
    assert 110 / w == 2 and w // 2 == 27 and w > 54 and w <= 55 and hash(w) == hash(55)
    assert [0] * 3 == [0] * ar.conv_out(5, 3)  # __index__
    assert f"{ar.linear_macs(9216, 4096):,}" == "37,748,736"
    assert ar.linear_macs(9216, 4096).text == "9,216·4,096 = 37,748,736"
    assert w._repr_markdown_() == w.text and w._repr_latex_().startswith("$$")
    with pytest.raises(TypeError):
        ar.conv_out(227.0, 11, 4)


def test_fmt():
    assert ar.fmt(34944) == "34,944" and ar.fmt(54.25) == "54.25" and ar.fmt(3.0) == "3"
    assert ar.fmt_big(60_965_224) == "60.97 M" and ar.fmt_big(1_135_906_176) == "1.14 G"
    assert ar.fmt_big(999) == "999" and ar.fmt_bytes(244_403_360) == "244.40 MB"


def test_rf_step():
    r, j = ar.rf_step(3, 1, 3)
    assert (r, j) == (5, 1) and r.text == "3 + (3 − 1)·1 = 5"


# --- summary ------------------------------------------------------------------------------------

def test_summary_of_the_paper_alexnet():
    s = ar.summary(meta_alexnet(), (3, 227, 227))
    conv1 = s.row("0")
    assert conv1.out_shape == (96, 55, 55) and conv1.params == 34_944 and conv1.macs == 105_415_200
    assert conv1.params_formula == "(11·11·3 + 1)·96 = 34,944"
    assert conv1.out_formula == "(227 − 11 + 2·0)/4 + 1 = 55"
    assert s.row("3").out_shape == (96, 27, 27) and s.row("4").out_shape == (256, 27, 27)
    assert s.row("14").out_shape == (256, 6, 6) and s.row("15").out_shape == (9216,)
    assert s.params == sum(p.numel() for p in meta_alexnet().parameters()) == 62_378_344
    fc6 = s.row("17").params
    assert fc6 == 37_752_832 and 0.6 < fc6 / s.params < 0.61  # FC6 alone: about 60%
    assert s.macs == 1_135_256_096
    assert s.param_bytes() == 4 * s.params
    assert [s.training_bytes(o) for o in ("sgd", "sgd-momentum", "adam")] == \
        [2 * s.param_bytes(), 3 * s.param_bytes(), 4 * s.param_bytes()]
    with pytest.raises(ValueError, match="unknown optimizer"):
        s.training_bytes("lbfgs")
    # in-place ReLU, dropout at evaluation and Flatten (a view) add no activation memory
    assert not s.row("1").new_tensor and not s.row("15").new_tensor and not s.row("16").new_tensor
    assert s.activations == sum(r.activations for r in s.rows if r.type in (
        "Conv2d", "LocalResponseNorm", "MaxPool2d", "Linear"))


def test_summary_text_is_stable_and_complete():
    s = ar.summary(meta_alexnet(), (3, 227, 227))
    text = s.to_text()
    assert text == str(s) == repr(s) == str(ar.summary(meta_alexnet(), (3, 227, 227)))
    assert "0x" not in text and "object at" not in text
    assert "62,378,344" in text and "1,135,256,096" in text and "verified:" in text
    assert "(11·11·3 + 1)·96 = 34,944" in s.to_text(formulas=True)
    html = s._repr_html_()
    assert "<table>" in html and "34,944" in html


def test_summary_restores_training_mode_and_accepts_a_tensor():
    model = meta_alexnet().train()
    s = ar.summary(model, torch.zeros(2, 3, 227, 227, device="meta"))
    assert all(m.training for m in model.modules())
    assert s.row("0").activations == 96 * 55 * 55  # per example, not per batch
    assert s.macs == ar.summary(model, (3, 227, 227)).macs


def test_shared_and_unused_parameters_are_counted_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(8, 8)
            self.block = nn.Linear(8, 8)
            self.head = nn.Linear(8, 8)
            self.head.weight = self.embed.weight  # tied weights
            self.unused = nn.Linear(8, 3)          # never called in forward
            self.scale = nn.Parameter(torch.ones(8))  # a parameter of the non-leaf module

        def forward(self, x):
            x = self.block(self.block(self.embed(x)))  # a layer used twice
            return self.head(x) * self.scale + x @ self.block.weight  # a matmul outside layers

    model = Tied()
    s = ar.summary(model, (8,))
    assert s.params == sum(p.numel() for p in model.parameters()) == 72 + 72 + 8 + 27 + 8
    assert s.row("head").params == 8 and "shared with embed" in s.row("head").params_formula
    assert [r.params for r in s.rows if r.name == "block"] == [72, 0]
    assert s.row("unused").params == 27 and s.row("unused").macs == 0
    with FlopCounterMode(display=False) as fc:
        model(torch.zeros(1, 8))
    assert 2 * s.macs == fc.get_total_flops() == 2 * (4 * 64 + 64)
    assert s.row("(model) (operations in forward)").macs == 64


def test_unknown_layers_get_params_and_macs_from_their_own_modules():
    class Scale(nn.Module):  # a leaf with a parameter and a matrix product
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(5, 4))

        def forward(self, x):
            return x @ self.w

    s = ar.summary(nn.Sequential(nn.Linear(3, 5), Scale()), (3,))
    r = s.row("1")
    assert r.params == 20 and r.params_formula == "w 5×4 = 20"
    assert r.macs == 20 and "FlopCounterMode" in r.macs_formula and r.out_shape == (4,)


def test_blocks_fold_a_deep_network():
    from torchvision.models import resnet18
    with torch.device("meta"):
        model = resnet18()
    s = ar.summary(model, (3, 224, 224), blocks=True)
    names = [r.name for r in s.grouped]
    assert "layer1.0" in names and "layer4.1" in names and "conv1" in names
    block = s.row("layer1.0")
    assert block.type == "BasicBlock" and block.out_shape == (64, 56, 56)
    assert block.params == sum(p.numel() for p in model.layer1[0].parameters())
    assert sum(r.params for r in s.grouped) == s.params
    assert sum(r.macs for r in s.grouped) == s.macs
    assert "<details>" in s._repr_html_()
    by_stage = s.blocks(depth=1)
    assert [r.name for r in by_stage.grouped if r.children][:2] == ["layer1", "layer2"]
    assert "layer1.0.conv1" in by_stage.to_text(expand=True)
    assert len(s.blocks([nn.Sequential]).grouped) < len(s.rows)


# --- reference models ---------------------------------------------------------------------------

def _reference_models():
    """name -> (builder, the weights enum whose metadata lists torchvision's own figures)."""
    from torchvision import models as m
    return {
        "alexnet": (m.alexnet, m.AlexNet_Weights.IMAGENET1K_V1),
        "vgg16": (m.vgg16, m.VGG16_Weights.IMAGENET1K_V1),
        "resnet50": (m.resnet50, m.ResNet50_Weights.IMAGENET1K_V1),
        "densenet121": (m.densenet121, m.DenseNet121_Weights.IMAGENET1K_V1),
        "mobilenet_v2": (m.mobilenet_v2, m.MobileNet_V2_Weights.IMAGENET1K_V1),
        "efficientnet_b0": (m.efficientnet_b0, m.EfficientNet_B0_Weights.IMAGENET1K_V1),
        "googlenet": (lambda: m.googlenet(weights=None, aux_logits=False, init_weights=False),
                      m.GoogLeNet_Weights.IMAGENET1K_V1),
    }


@pytest.mark.parametrize("name", list(_reference_models()))
def test_torchvision_reference_models(name):
    """Built with weights=None on the meta device (shapes without memory), so the check is
    cheap: the parameter count is exact, the multiply-adds agree with an independent
    FlopCounterMode run (within 1%; in fact exactly), and with the figures torchvision publishes
    in its weights' metadata (num_params, and "_ops", its "GFLOPS" column, which counts
    multiply-adds, rounded to 3 decimals). Nothing is downloaded."""
    build, weights = _reference_models()[name]
    with torch.device("meta"):
        model = build()
    s = ar.summary(model, (3, 224, 224))
    assert s.params == sum(p.numel() for p in model.parameters()) == weights.meta["num_params"]
    with FlopCounterMode(display=False) as fc:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, 224, 224, device="meta"))
    reference = fc.get_total_flops() / 2
    assert abs(s.macs - reference) <= 0.01 * reference
    assert abs(s.macs / 1e9 - weights.meta["_ops"]) <= 0.0005 + 1e-9


def test_real_forward_agrees_with_meta():
    """The meta-device shortcut changes nothing: a real forward pass on the CPU gives the same
    table (AlexNet, the cheapest of the reference models)."""
    from torchvision.models import alexnet
    real = ar.summary(alexnet(), (3, 224, 224))
    with torch.device("meta"):
        meta = ar.summary(alexnet(), (3, 224, 224))
    assert real.to_text() == meta.to_text()
    assert (real.params, real.macs) == (61_100_840, 714_188_480)


def test_vgg16_activation_memory():
    """cs231n lists VGG-16's layer outputs per image; their lines add up to about 15.2 M values
    with the input (the notes' total says 24M ≈ 93 MB). We count the same outputs without the
    input, plus the 7×7 adaptive pool torchvision adds."""
    from torchvision.models import vgg16
    with torch.device("meta"):
        s = ar.summary(vgg16(), (3, 224, 224))
    convs_pools_fcs = sum(r.activations for r in s.rows if r.type in ("Conv2d", "MaxPool2d", "Linear"))
    assert convs_pools_fcs + 3 * 224 * 224 == 15_237_608
    assert s.activations == convs_pools_fcs + 512 * 7 * 7


# --- the self-checks fire -----------------------------------------------------------------------

def test_mismatch_detector_fires_on_a_wrong_formula(monkeypatch):
    real = ar.conv_out

    def off_by_one(*args, **kwargs):
        w = real(*args, **kwargs)
        return ar.Worked(w.value + 1, w.text)

    monkeypatch.setattr(formulas, "conv_out", off_by_one)
    with pytest.raises(ar.SummaryMismatch, match=r"^0: Conv2d") as info:
        ar.summary(meta_alexnet(), (3, 227, 227))
    assert info.value.layer == "0"


def test_mismatch_detector_fires_on_a_wrong_macs_formula(monkeypatch):
    monkeypatch.setattr(formulas, "linear_macs", lambda n_in, n_out: ar.Worked(n_in * n_out + 1, "wrong"))
    with pytest.raises(ar.SummaryMismatch, match="FlopCounterMode") as info:
        ar.summary(meta_alexnet(), (3, 227, 227))
    assert info.value.layer == "17"


def test_mismatch_detector_fires_on_a_layer_that_lies_about_its_shape():
    class LyingConv(nn.Conv2d):  # drops the last column: not what its hyper-parameters say
        def forward(self, x):
            return super().forward(x)[..., :-1]

    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), LyingConv(8, 8, 3))
    with pytest.raises(ar.SummaryMismatch, match=r"2: LyingConv .* gives 8×28×27, the formulas give 8×28×28"):
        ar.summary(model, (3, 32, 32))
    assert ar.summary(model, (3, 32, 32), verify=False).row("2").out_shape == (8, 28, 27)


def test_mismatch_detector_fires_on_a_wrong_parameter_count(monkeypatch):
    monkeypatch.setattr(formulas, "bn_params", lambda c: ar.Worked(3 * c, "3·C"))
    with pytest.raises(ar.SummaryMismatch, match="1: BatchNorm2d"):
        ar.summary(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), (3, 8, 8))


# --- receptive field ----------------------------------------------------------------------------

def test_receptive_field_of_stacked_3x3():
    c = 16
    model = nn.Sequential(*[nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU()) for _ in range(3)])
    rf = ar.receptive_field(model, (c, 32, 32))
    assert [r.size for r in rf] == [3, 5, 7] and rf.size == 7
    assert rf.row("1.0").text == "r = 3 + (3 − 1)·1 = 5, j = 1·1 = 1"


def test_receptive_field_with_stride_dilation_and_branches():
    rf = ar.receptive_field(meta_alexnet(), (3, 227, 227))
    assert [(r.size, r.jump) for r in rf][:3] == [(11, 4), (19, 8), (51, 8)]
    assert ar.receptive_field(nn.Conv2d(1, 1, 3, dilation=2), (1, 9, 9)).size == 5
    from torchvision.models import resnet18
    with torch.device("meta"):
        rf = ar.receptive_field(resnet18(), (3, 224, 224))
    assert rf.row("layer4.1.conv2").size == 435  # the commonly quoted ResNet-18 value
    assert "r = " in str(rf) and "<table>" in rf._repr_html_()


# --- shape errors -------------------------------------------------------------------------------

def test_cifar_image_through_imagenet_alexnet_names_the_layer():
    with pytest.raises(ar.ShapeError) as info:
        ar.check_fits(alexnet_paper(), (3, 32, 32))
    message = str(info.value)
    # conv1: (32 − 11)/4 + 1 = 6.25 → 6, pool → 2, conv2 keeps 2, pool: (2 − 3)/2 + 1 = 0
    assert info.value.layer == "7"
    assert message.startswith("7 MaxPool2d(kernel 3, stride 2): input 2×2")
    assert "smaller than the kernel: (2 − 3 + 2·0)/2 + 1 = 0.5 → 0" in message
    assert "3×32×32" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_check_fits_can_print_instead_of_raising(capsys):
    assert ar.check_fits(meta_alexnet(), (3, 32, 32), raise_error=False) is None
    assert capsys.readouterr().out.startswith("ShapeError: 7 MaxPool2d(kernel 3, stride 2): input 2×2")
    assert ar.check_fits(meta_alexnet(), (3, 227, 227), raise_error=False) == (1000,)


def test_torchvision_alexnet_on_cifar():
    from torchvision.models import alexnet
    with torch.device("meta"):
        model = alexnet()
    with pytest.raises(ar.ShapeError, match=r"features\.12 MaxPool2d\(kernel 3, stride 2\): input 1×1 "
                                            r"\(from features\.11 ReLU\) is smaller than the kernel: "
                                            r"\(1 − 3 \+ 2·0\)/2 \+ 1 = 0"):
        ar.summary(model, (3, 32, 32))


def test_linear_mismatch_says_where_the_flattened_size_came_from():
    model = nn.Sequential(nn.Conv2d(3, 8, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 10))
    expected = (r"4 Linear\(128 → 10\): expects 128 input features, gets 1,568 = 8·14·14, "
                r"the flattened output \(8×14×14\) of 2 MaxPool2d")
    with pytest.raises(ar.ShapeError, match=expected):
        ar.check_fits(model, (3, 32, 32))
    assert ar.check_fits(model, (3, 12, 12)) == (10,)


def test_wrong_channels_and_other_errors_are_named():
    with pytest.raises(ar.ShapeError, match="expects 3 input channels, gets 1"):
        ar.check_fits(meta_alexnet(), (1, 227, 227))

    class Bad(nn.Module):
        def forward(self, x):
            return x.view(7, -1)

    with pytest.raises(ar.ShapeError, match="inner Bad fails on an input of 3×4×4") as info:
        ar.check_fits(_seq_with_bad(Bad), (3, 4, 4))
    assert info.value.layer == "inner"


def _seq_with_bad(cls):
    model = nn.Sequential()
    model.add_module("inner", cls())
    return model


def test_summary_fits_cifar_sized_networks():
    model = nn.Sequential(nn.Conv2d(3, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
                          nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84),
                          nn.Tanh(), nn.Linear(84, 10))
    s = ar.summary(model, (3, 32, 32))
    assert s.row("0").out_formula == "(32 − 5 + 2·0)/1 + 1 = 28"
    assert s.params == sum(p.numel() for p in model.parameters())
    assert math.prod(s.row("5").out_shape) == 400


# --- impossible arithmetic is refused ------------------------------------------------------------

@pytest.mark.parametrize("call, argument", [
    (lambda: ar.conv_params(3, 96, -3), "kernel"),           # used to give 2,688
    (lambda: ar.conv_params(-3, 96, 3), "c_in"),             # used to give −2,496
    (lambda: ar.conv_params(3, 0, 3), "c_out"),
    (lambda: ar.conv_params(96, 256, 5, groups=0), "groups"),  # used to divide by zero
    (lambda: ar.conv_params(96, 256, 5, groups=5), "groups"),
    (lambda: ar.conv_params(8, 8, (1, 0)), r"kernel\[1\]"),
    (lambda: ar.linear_macs(-1, 10), "n_in"),                # used to give −10
    (lambda: ar.linear_params(10, 0), "n_out"),
    (lambda: ar.conv_macs(0, 5, 3, 8, 3), "h_out"),
    (lambda: ar.conv_macs(5, 5, 3, 8, 3, groups=2), "groups"),
    (lambda: ar.conv_macs(5, 5, 4, 8, 3, groups=-2), "groups"),
    (lambda: ar.depthwise_params(0, 3), "channels"),
    (lambda: ar.bn_params(-64), "channels"),
    (lambda: ar.se_params(64, 0), "squeeze_channels"),
    (lambda: ar.conv_out(0, 3), "size"),
    (lambda: ar.conv_out(32, 0), "kernel"),
    (lambda: ar.conv_out(32, 3, stride=0), "stride"),
    (lambda: ar.conv_out(32, 3, padding=-1), "padding"),
    (lambda: ar.conv_out(32, 3, dilation=0), "dilation"),
    (lambda: ar.conv_out(5, 7), "kernel 7 does not fit"),    # larger than the padded input
    (lambda: ar.conv_out(5, 3, dilation=3), "kernel 3 .dilation 3. does not fit"),
    (lambda: ar.pool_out(-28, 2), "size"),
    (lambda: ar.pool_out(28, 2, padding=-1), "padding"),
    (lambda: ar.pool_out(1, 3, 2, ceil_mode=True), "kernel 3 does not fit"),
    (lambda: ar.rf_step(1, 0, 3), "j_in"),
    (lambda: ar.rf_step(1, 1, 3, stride=-2), "stride"),
])
def test_impossible_arithmetic_is_refused_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


def test_a_window_larger_than_the_input_says_why():
    with pytest.raises(ValueError) as info:
        ar.conv_out(5, 7)
    assert str(info.value) == ("kernel 7 does not fit: the 7-wide window is larger than the padded "
                               "input of 5 + 2·0 = 5 ((5 − 7 + 2·0)/1 + 1 = −1): there is no output")
    assert isinstance(info.value, ar.NoOutput) and info.value.worked == -1     # the arithmetic, for
    assert "does not fit in the padded input" in info.value.worked.note       # a caller to show it
    assert ar.conv_out(5, 7, padding=1) == 1                  # padding makes room: 7 ≤ 5 + 2
    assert ar.pool_out(1, 2, 2, ceil_mode=True) == 1 == \
        nn.MaxPool1d(2, 2, ceil_mode=True)(torch.zeros(1, 1, 1)).shape[-1]  # a partial window
    with pytest.raises(TypeError):
        ar.conv_params(3, 96, 3.5)


def test_rf_step_reads_worked_inputs_as_their_values():
    r, j = ar.rf_step(*ar.rf_step(1, 1, 3), 3)
    assert (r, j) == (5, 1) and r.text == "3 + (3 − 1)·1 = 5" and j.text == "1·1 = 1"


# --- one place per layer kind ----------------------------------------------------------------------

def test_every_layer_is_looked_up_by_its_class_and_bases():
    from utils import kinds

    class LyingConv(nn.Conv2d):
        pass

    conv = kinds.kind_of(nn.Conv2d(3, 8, 3))
    assert kinds.kind_of(LyingConv(3, 8, 3)) is conv                  # a subclass reads as its parent
    assert all(getattr(conv, f) is not None for f in kinds.Kind.FIELDS)
    assert kinds.kind_of(nn.Linear(3, 4)).window is None              # no receptive-field step
    assert kinds.kind_of(nn.Conv1d(3, 8, 3)) is kinds.UNKNOWN          # 2-d images only
    s = ar.summary(nn.Sequential(nn.Conv1d(3, 8, 3), nn.ReLU()), (3, 16))
    assert s.row("0").params_formula == "weight 8×3×3 + bias 8 = 80" and s.row("0").macs == 8 * 14 * 9


def test_a_new_layer_kind_is_one_entry():
    """A 1×1 channel mixing written with einsum: one kind gives it words, formulas and checks."""
    from utils import kinds

    class ChannelMix(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(c, c))

        def forward(self, x):
            return torch.einsum("oc,nchw->nohw", self.weight, x)

    @kinds.kind(ChannelMix)
    class Mixing:
        def hparams(m):
            return f"{m.weight.shape[0]} channels mixed"

        def params(m):
            return formulas.conv_params(m.weight.shape[1], m.weight.shape[0], 1, bias=False)

        def macs(m, in_shape, out_shape):
            return formulas.conv_macs(*out_shape[1:], in_shape[0], out_shape[0], 1)

        def shape(m, in_shape):
            return (m.weight.shape[0], *in_shape[1:]), ""

    s = ar.summary(nn.Sequential(nn.Conv2d(3, 8, 3), ChannelMix(8)), (3, 10, 10))
    r = s.row("1")
    assert r.hparams == "8 channels mixed" and r.params_formula == "1·1·8·8 = 64"
    assert r.macs == 8 * 8 * 8 * 8 and r.macs_formula == "8·8·8·(1·1·8) = 4,096"
    assert "output shapes of 2 layers" in s.to_text() and "multiply-adds of 2 conv/linear" in s.to_text()
    Mixing.macs = lambda m, in_shape, out_shape: ar.Worked(1, "wrong")   # the checks see it
    with pytest.raises(ar.SummaryMismatch, match="FlopCounterMode"):
        ar.summary(nn.Sequential(ChannelMix(8)), (8, 4, 4))


# --- compute that cannot be counted is not "verified" --------------------------------------------

class UnfoldConv(nn.Module):
    """A 3×3 convolution written by hand: patches (unfold) times weights, elementwise, summed.
    FlopCounterMode sees no matrix product in it, so it counts 0 FLOPs."""

    def __init__(self, c_in, c_out, matmul=False):
        super().__init__()
        self.c_out, self.matmul = c_out, matmul
        self.weight = nn.Parameter(torch.ones(c_out, c_in * 9))

    def forward(self, x):
        n, _, h, w = x.shape
        patches = nn.functional.unfold(x, 3)                       # N × (C·9) × positions
        if self.matmul:
            out = self.weight @ patches
        else:
            out = (self.weight[None, :, :, None] * patches[:, None]).sum(2)
        return out.view(n, self.c_out, h - 2, w - 2)


def test_an_unfold_convolution_is_named_as_not_counted():
    s = ar.summary(nn.Sequential(nn.Conv2d(3, 4, 1), UnfoldConv(4, 8), nn.ReLU()), (3, 8, 8))
    text = s.to_text()
    assert "verified" not in text and "verified" not in s._repr_html_()
    assert [r.name for r in s.uncounted] == ["1"] and not s.row("1").counted
    assert s.row("1").macs_formula.startswith("not counted") and "unfold" in s.row("1").macs_formula
    assert "not counted: the multiply-adds of 1 (UnfoldConv)" in text
    assert text.splitlines()[-6].endswith("?")                       # the total says it too
    assert s.macs == 8 * 8 * 4 * 3 and s.row("0").counted           # the 1×1 conv alone
    # with a matrix product FlopCounterMode counts it: 6·6·8·36 multiply-adds, and the table checks
    counted = ar.summary(nn.Sequential(UnfoldConv(4, 8, matmul=True)), (4, 8, 8))
    assert counted.macs == 6 * 6 * 8 * 36 and not counted.uncounted and "verified:" in str(counted)


def test_weights_without_counted_products_are_named_but_per_channel_scales_are_not():
    class Elementwise(nn.Module):  # a fully connected layer written as a product and a sum
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(4, 6))

        def forward(self, x):
            return (x[:, None, :] * self.weight).sum(-1)

    class Scale(nn.Module):  # one coefficient per channel, as LeNet's subsampling: 0 by convention
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(6))

        def forward(self, x):
            return x * self.weight

    s = ar.summary(nn.Sequential(Scale(), Elementwise()), (6,))
    assert [r.name for r in s.uncounted] == ["1"] and "weight" in s.row("1").macs_formula
    assert s.row("0").counted and s.row("0").macs == 0


# --- blocks follow the model's structure ---------------------------------------------------------

def test_blocks_are_the_outermost_modules_that_are_not_plain_containers():
    from torchvision.models import googlenet, resnet50
    assert not hasattr(ar, "DEFAULT_BLOCKS")
    with torch.device("meta"):
        resnet = resnet50()
        inception = googlenet(weights=None, aux_logits=False, init_weights=False)
    folded = ar.summary(resnet, (3, 224, 224)).blocks()
    blocks = [r for r in folded.grouped if r.children]
    assert [r.type for r in blocks] == ["Bottleneck"] * 16
    assert [r.name for r in folded.grouped if not r.children] == ["conv1", "bn1", "relu", "maxpool",
                                                                  "avgpool", "fc"]
    folded = ar.summary(inception, (3, 224, 224)).blocks()
    types = [r.type for r in folded.grouped if r.children]
    assert types.count("Inception") == 9 and set(types) == {"Inception", "BasicConv2d"}

    class Stem(nn.Module):  # a module of the model's own: a block, whatever its name
        def __init__(self):
            super().__init__()
            self.conv, self.act = nn.Conv2d(3, 8, 3), nn.ReLU()

        def forward(self, x):
            return self.act(self.conv(x))

    class Pair(nn.Sequential):  # a Sequential with a class of its own: a block
        pass

    model = nn.Sequential(Stem(), nn.Sequential(Pair(nn.Conv2d(8, 8, 1), nn.ReLU()), nn.ReLU()),
                          nn.ModuleList([nn.Identity()]), nn.Flatten())
    model.forward = lambda x: model[3](model[1](model[0](x)))
    grouped = ar.summary(model, (3, 6, 6)).blocks().grouped
    assert [(r.name, r.type, len(r.children)) for r in grouped] == [
        ("0", "Stem", 2), ("1.0", "Pair", 2), ("1.1", "ReLU", 0), ("3", "Flatten", 0)]


# --- several networks side by side ---------------------------------------------------------------

def test_compare_puts_networks_side_by_side():
    alexnet = ar.summary(meta_alexnet(), (3, 227, 227))
    lenet = ar.summary(nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                                     nn.Linear(6 * 14 * 14, 10)), (1, 32, 32))
    table = ar.compare({"AlexNet": alexnet, "LeNet-ish": lenet})
    assert table is not None and ar.Summary.compare({"AlexNet": alexnet}).rows[0] == table.rows[0]
    text = str(table)
    lines = text.splitlines()
    assert lines[0].split() == ["network", "input", "parameters", "MACs", "activations", "weights",
                                "training", "(Adam", "4×)", "activation", "memory"]
    assert lines[2].split()[:4] == ["AlexNet", "3×227×227", "62,378,344", "1,135,256,096"]
    assert ar.fmt_bytes(alexnet.param_bytes()) in lines[2]
    assert ar.fmt_bytes(alexnet.training_bytes("adam")) in lines[2]
    assert ar.fmt_bytes(alexnet.activation_bytes()) in lines[2]
    assert lines[3].startswith("LeNet-ish  1×32×32") and f"{lenet.params:,}" in lines[3]
    assert len({len(line) for line in lines[2:4]}) == 1                # columns aligned
    html = table._repr_html_()
    assert html.count("<tr>") == 3 and "62,378,344" in html and "LeNet-ish" in html
    sgd = ar.compare([alexnet, lenet], optimizer="sgd")
    assert [r["network"] for r in sgd.rows] == ["Sequential", "Sequential (2)"]
    assert "training (SGD 2×)" in str(sgd) and sgd.rows[0]["training_bytes"] == 2 * alexnet.param_bytes()
    with pytest.raises(TypeError, match="'AlexNet' is a Sequential, not a Summary"):
        ar.compare({"AlexNet": meta_alexnet()})
    with pytest.raises(ValueError, match="unknown optimizer"):
        ar.compare({"AlexNet": alexnet}, optimizer="lbfgs")


# --- the modules and their imports ---------------------------------------------------------------

def test_formulas_stand_alone_and_no_import_cycle():
    """Every ``import`` of a utils module, inside functions too: the formulas import none, the
    machinery imports the formulas and never utils.arithmetic, and nothing imports in a circle."""
    import ast
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent / "utils"
    names = ("formulas", "kinds", "summary", "receptive", "arithmetic")
    graph = {}
    for name in names:
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "utils":
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("utils."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("utils.")}
        graph[name] = found
        assert len((root / f"{name}.py").read_text(encoding="utf-8").splitlines()) <= 900, name
    assert graph["formulas"] == set()
    assert all("arithmetic" not in graph[n] for n in names)

    def reach(start, seen=()):
        for nxt in graph.get(start, ()):
            assert nxt not in seen + (start,), f"import cycle through {start} and {nxt}"
            reach(nxt, seen + (start,))
    for name in names:
        reach(name)


def test_summary_shows_the_papers_layer_names():
    """``names=`` relabels rows (the paper's conv1 for torchvision's features.0); a row is found
    by either name, the checks are unchanged, and a name that is not a layer is refused."""
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    plain = ar.summary(net, (3, 8, 8))
    named = ar.summary(net, (3, 8, 8), names={"0": "conv1", "3": "fc"})
    assert [r.name for r in named.rows] == ["conv1", "1", "2", "fc"]
    assert named.row("conv1") is named.row("0") and named.row("fc").params == 8 * 36 * 10 + 10
    assert named.checks == plain.checks and named.params == plain.params
    assert "conv1" in str(named) and "conv1" in named._repr_html_()
    with pytest.raises(KeyError, match="no layer named 'conv9'"):
        ar.summary(net, (3, 8, 8), names={"conv9": "x"})
