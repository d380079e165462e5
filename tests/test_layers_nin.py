"""The Network in Network chapter's mlpconv layer, step by step, against utils.layers.MLPConv.

The chapter (chapters/03_nin.ipynb) builds the paper's mlpconv layer (§3.1, Equation 2) literally:
cut out the k×k patch under every output position (``unfold``), run each patch through a small
multilayer perceptron made of ``nn.Linear`` layers with ReLUs, and put the results back as
feature maps. ``PatchMLP`` below is that same code. These tests prove that the final form in
``utils.layers.MLPConv`` (a k×k convolution followed by 1×1 convolutions) has the same
parameters and computes the same function for the same weights, on several shapes; and that a
1×1 convolution is exactly a fully connected layer applied at every pixel. The networks
(``NiNCIFAR``, ``nin_cifar()``, ``NiNImageNet``) are checked against the chapter's classes, taken
from the notebook.
"""

import pytest
import torch
from torch import nn

import utils.arithmetic as ar
from tests.layer_checks import build, chapter_definitions, same_init
from utils.layers import MLPConv, NiNCIFAR, NiNImageNet, nin_cifar, same_as_reference


class PatchMLP(nn.Module):
    """An MLP applied to the k×k×C patch under every output position (the paper's Equation 2)."""

    def __init__(self, in_channels, channels, kernel_size, stride=1, padding=0, last_relu=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.last_relu = kernel_size, stride, padding, last_relu
        sizes = [in_channels * kernel_size * kernel_size, *channels]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, x):
        n, _, h, w = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        h_out, w_out = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        patches = nn.functional.unfold(x, k, padding=p, stride=s)       # N × (C·k·k) × positions
        f = patches.transpose(1, 2)                                     # one row per position
        for i, fc in enumerate(self.fcs):
            f = fc(f)
            if self.last_relu or i < len(self.fcs) - 1:
                f = torch.relu(f)
        return f.transpose(1, 2).reshape(n, -1, h_out, w_out)

    def copy_into(self, block: MLPConv):
        """Load these weights into an MLPConv of the same shape (reshaping each matrix into a filter)."""
        convs = [m for m in block if isinstance(m, nn.Conv2d)]
        assert len(convs) == len(self.fcs)
        with torch.no_grad():
            for fc, conv in zip(self.fcs, convs):
                conv.weight.copy_(fc.weight.view_as(conv.weight))
                conv.bias.copy_(fc.bias)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


SHAPES = [
    # in_channels, channels, kernel, stride, padding, input H×W
    (3, (192, 160, 96), 5, 1, 2, (32, 32)),      # the paper's first CIFAR-10 mlpconv layer
    (96, (192, 192, 192), 5, 1, 2, (16, 16)),    # the second
    (192, (192, 192, 10), 3, 1, 1, (8, 8)),      # the third, ending in one map per class
    (3, (96, 96, 96), 11, 4, 0, (67, 67)),       # the ImageNet model's first (11×11, stride 4)
    (4, (6,), 3, 2, 1, (9, 7)),                  # a one-layer "MLP": an ordinary convolution
]


@pytest.mark.parametrize("c_in, channels, k, s, p, size", SHAPES)
def test_same_parameter_count(c_in, channels, k, s, p, size):
    assert n_params(MLPConv(c_in, channels, k, s, p)) == n_params(PatchMLP(c_in, channels, k, s, p))


@pytest.mark.parametrize("last_relu", [True, False])
@pytest.mark.parametrize("c_in, channels, k, s, p, size", SHAPES)
def test_utils_version_equals_the_chapters_patch_mlp(c_in, channels, k, s, p, size, last_relu):
    torch.manual_seed(0)
    reference = PatchMLP(c_in, channels, k, s, p, last_relu=last_relu).double()
    block = MLPConv(c_in, channels, k, s, p, last_relu=last_relu).double()
    reference.copy_into(block)
    x = torch.randn(2, c_in, *size, dtype=torch.float64)
    out = block(x)
    assert out.shape == reference(x).shape == (2, channels[-1], (size[0] + 2 * p - k) // s + 1,
                                                (size[1] + 2 * p - k) // s + 1)
    torch.testing.assert_close(out, reference(x), rtol=1e-10, atol=1e-10)
    if not last_relu:
        assert (out < 0).any()          # the last layer is linear: negative outputs survive


def test_one_by_one_convolution_is_a_per_pixel_linear_layer():
    torch.manual_seed(1)
    conv = nn.Conv2d(64, 32, kernel_size=1).double()
    fc = nn.Linear(64, 32).double()
    with torch.no_grad():
        fc.weight.copy_(conv.weight.view(32, 64))
        fc.bias.copy_(conv.bias)
    x = torch.randn(3, 64, 5, 6, dtype=torch.float64)
    per_pixel = fc(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)      # channels last, Linear, back
    torch.testing.assert_close(conv(x), per_pixel, rtol=1e-12, atol=1e-12)


def test_layer_names_and_defaults():
    block = MLPConv(3, (192, 160, 96), 5, padding=2)
    assert [name for name, _ in block.named_children()] == ["conv", "relu", "cccp1", "relu1", "cccp2", "relu2"]
    assert block.out_channels == 96 and block.channels == (192, 160, 96) and block.last_relu
    assert block.conv.kernel_size == (5, 5) and block.cccp1.kernel_size == (1, 1)
    assert [name for name, _ in MLPConv(3, (8, 4), 3, last_relu=False).named_children()] == ["conv", "relu", "cccp1"]
    # the default padding is nn.Conv2d's, 0: a 5×5 layer shrinks the map by 4
    assert MLPConv(3, (8,), 5)(torch.zeros(1, 3, 12, 12)).shape == (1, 8, 8, 8)


def test_bad_channels_are_a_clear_error():
    with pytest.raises(ValueError, match="channels"):
        MLPConv(3, (), 3)
    with pytest.raises(ValueError, match="channels"):
        MLPConv(3, (8, 0), 3)


def test_summary_folds_each_mlpconv_into_one_block_row():
    net = nn.Sequential(MLPConv(3, (16, 8), kernel_size=3, padding=1), nn.MaxPool2d(2),
                        MLPConv(8, (16, 10), kernel_size=3, padding=1), nn.AdaptiveAvgPool2d(1))
    table = ar.summary(net, (3, 16, 16))
    folded = table.blocks()
    names = [r.name for r in folded.grouped]
    assert names == ["0", "1", "2", "3"], names
    assert folded.row("0").params == ar.conv_params(3, 16, 3) + ar.conv_params(16, 8, 1)
    assert sum(r.params for r in folded.grouped) == table.params


@pytest.mark.parametrize("last_relu", [True, False])
def test_nin_cifar_is_the_chapters_nin_cifar(last_relu):
    chapter = chapter_definitions("03_nin", "NiNCIFAR", graduated="NiNCIFAR")
    same_as_reference(nin_cifar(last_relu=last_relu), chapter["NiNCIFAR"](last_relu=last_relu),
                      (3, 32, 32)).assert_ok()
    assert same_init(lambda: nin_cifar(last_relu=last_relu),
                     lambda: chapter["NiNCIFAR"](last_relu=last_relu))
    assert type(nin_cifar()) is NiNCIFAR and nin_cifar(100).mlpconv3.out_channels == 100


def test_nin_imagenet_is_the_chapters_nin_imagenet():
    chapter = chapter_definitions("03_nin", "NiNImageNet", graduated="NiNImageNet")
    check = same_as_reference(build(NiNImageNet, seed=None), build(chapter["NiNImageNet"]),
                              (3, 224, 224), batch=1)
    check.assert_ok()
    with torch.device("meta"):
        assert [n for n, _ in NiNImageNet().named_children()] == \
            [n for n, _ in chapter["NiNImageNet"]().named_children()]
