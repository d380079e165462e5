"""ZFNet in utils/layers/zfnet.py against the chapter's own classes (chapters/02_zfnet.ipynb).

The chapter builds the paper's network (``ZFNet``, Figure 3) and its CIFAR-10 adaptation
(``ZFNetCIFAR``); these tests take both classes out of the notebook and prove that the graduated
versions have the same state dict, the same initial weights for the same seed and the same output
for the same weights, and that Figure 3's map sizes come out.
"""

import torch
from torch import nn

from tests.layer_checks import chapter_definitions, same_init
from utils import arithmetic as ar
from utils.layers import ZFNet, ZFNetCIFAR, same_as_reference, zfnet_cifar


def test_zfnet_is_the_chapters_zfnet():
    """Full size on the meta device (count and layout); the outputs in the next test."""
    chapter = chapter_definitions("02_zfnet", "ZFNet", graduated="ZFNet")
    with torch.device("meta"):
        ours, theirs = ZFNet(), chapter["ZFNet"]()
    check = same_as_reference(ours, theirs).assert_ok()
    assert check.params[0] == sum(p.numel() for p in theirs.parameters())
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]


def test_zfnet_widths_and_fc_arguments_are_the_chapters():
    """Table 3 of the paper varies the widths of layers 3–5 and the fully connected layers; small
    widths also make the output check at 224×224 cheap."""
    chapter = chapter_definitions("02_zfnet", "ZFNet", graduated="ZFNet")
    kwargs = dict(num_classes=7, widths=(16, 32, 48, 40, 24), fc=64)
    same_as_reference(ZFNet(**kwargs), chapter["ZFNet"](**kwargs), (3, 224, 224)).assert_ok()
    assert same_init(lambda: ZFNet(**kwargs), lambda: chapter["ZFNet"](**kwargs))


def test_zfnet_has_figure_3s_map_sizes():
    with torch.device("meta"):
        s = ar.summary(ZFNet(), (3, 224, 224))
    sizes = [s.row(n).out_shape[1] for n in ("conv1", "pool1", "conv2", "pool2", "pool5")]
    assert sizes == [110, 55, 26, 13, 6]


def test_zfnet_cifar_is_the_chapters_zfnet_cifar():
    chapter = chapter_definitions("02_zfnet", "ZFNetCIFAR", graduated="zfnet_cifar")
    same_as_reference(zfnet_cifar(), chapter["ZFNetCIFAR"](), (3, 32, 32)).assert_ok()
    assert same_init(zfnet_cifar, chapter["ZFNetCIFAR"])           # and the same He initialisation
    ours, theirs = zfnet_cifar(), chapter["ZFNetCIFAR"]()
    assert type(ours) is ZFNetCIFAR
    assert [type(m) for m in ours.features()] == [type(m) for m in theirs.features()]
    assert not any(m.inplace for m in ours.modules() if isinstance(m, nn.ReLU))
