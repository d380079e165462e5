"""utils.diagram (``plot.architecture``, ``plot.block``): what the diagrams say is what the
forward pass gives. Every label is checked against ``utils.arithmetic.summary``; block views
have one box per block with its mark; an expanded block shows its branches and its merge.

The torchvision networks are built on the meta device (shapes without memory or compute), so
the whole file runs in seconds on a CPU.
"""

import ast
import io
from collections import OrderedDict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torchvision.models as tvm  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from torch import nn  # noqa: E402

import utils.arithmetic as ar  # noqa: E402
from utils import diagram, layers, plot  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def meta(build):
    with torch.device("meta"):
        return build()


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text)]


def gids(fig, prefix) -> list[str]:
    return [a.get_gid() for a in fig.findobj(lambda a: (a.get_gid() or "").startswith(prefix))]


@pytest.fixture(autouse=True)
def no_open_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a diagram was left open in pyplot"


# --- the chapters' networks ------------------------------------------------------------------------

def lenet5():
    """LeNet-5 as chapters/00_lenet5.ipynb builds it (a linear output instead of the RBF)."""
    return nn.Sequential(OrderedDict(
        C1=nn.Conv2d(1, 6, 5), f1=layers.ScaledTanh(), S2=layers.Subsampling(6),
        f2=layers.ScaledTanh(), C3=layers.LeNetC3(), f3=layers.ScaledTanh(),
        S4=layers.Subsampling(16), f4=layers.ScaledTanh(), C5=nn.Conv2d(16, 120, 5),
        f5=layers.ScaledTanh(), flatten=nn.Flatten(), F6=nn.Linear(120, 84),
        f6=layers.ScaledTanh(), output=nn.Linear(84, 10)))


def alexnet():
    """The paper's two-tower AlexNet, named as in chapters/01_alexnet.ipynb, for 227×227."""
    def lrn():
        return layers.LocalResponseNorm()
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(3, 96, 11, stride=4), relu1=nn.ReLU(), norm1=lrn(), pool1=nn.MaxPool2d(3, 2),
        conv2=nn.Conv2d(96, 256, 5, padding=2, groups=2), relu2=nn.ReLU(), norm2=lrn(),
        pool2=nn.MaxPool2d(3, 2), conv3=nn.Conv2d(256, 384, 3, padding=1), relu3=nn.ReLU(),
        conv4=nn.Conv2d(384, 384, 3, padding=1, groups=2), relu4=nn.ReLU(),
        conv5=nn.Conv2d(384, 256, 3, padding=1, groups=2), relu5=nn.ReLU(), pool5=nn.MaxPool2d(3, 2),
        flatten=nn.Flatten(), fc6=nn.Linear(9216, 4096), relu6=nn.ReLU(), drop6=nn.Dropout(),
        fc7=nn.Linear(4096, 4096), relu7=nn.ReLU(), drop7=nn.Dropout(), fc8=nn.Linear(4096, 1000)))


def nin():
    """A Network-in-Network stack of mlpconv layers (chapters/03_nin.ipynb, CIFAR-10 sized)."""
    return nn.Sequential(OrderedDict(
        mlpconv1=layers.MLPConv(3, (192, 160, 96), 5, padding=2), pool1=nn.MaxPool2d(3, 2, 1),
        mlpconv2=layers.MLPConv(96, (192, 192, 192), 5, padding=2), pool2=nn.AvgPool2d(3, 2, 1),
        mlpconv3=layers.MLPConv(192, (192, 192, 10), 3, padding=1),
        gap=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten()))


def googlenet():
    return tvm.googlenet(weights=None, aux_logits=False, init_weights=False)


def inception_v3():
    return tvm.inception_v3(weights=None, aux_logits=False, init_weights=False)


PLAIN = {  # name: (build, input size, on the meta device)
    "LeNet-5": (lenet5, (1, 32, 32), False),
    "AlexNet": (alexnet, (3, 227, 227), True),
    "VGG-16": (lambda: layers.VGG("D"), (3, 224, 224), True),
    "NiN": (nin, (3, 32, 32), True),
    "torchvision alexnet": (tvm.alexnet, (3, 224, 224), True),
    "torchvision vgg16": (tvm.vgg16, (3, 224, 224), True),
}


def build(name):
    make, size, on_meta = PLAIN[name]
    return (meta(make) if on_meta else make()), size


def op_label(m) -> str | None:
    """What the diagram must say of a conv or pooling layer, worked out here independently:
    kernel, stride, then padding when there is some ("5×5 /1 p2")."""
    if not isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        return None
    k = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size,) * 2
    s = m.stride if isinstance(m.stride, tuple) else (m.stride or k[0],) * 2
    p = m.padding if isinstance(m.padding, tuple) else (m.padding,) * 2
    text = f"{k[0]}×{k[1]} /{s[0]}" + (f" p{p[0]}" if p[0] else "")
    return ("max " if isinstance(m, nn.MaxPool2d) else "avg " if isinstance(m, nn.AvgPool2d)
            else "") + text


@pytest.mark.parametrize("name", list(PLAIN))
def test_plain_stack_labels_are_the_summary_shapes_and_kernels(name):
    model, size = build(name)
    fig = plot.architecture(model, size)
    drawn, modules = texts(fig), dict(model.named_modules())
    s = ar.summary(model, size)
    assert diagram.shape_text(size) in drawn                                 # the input
    layers_drawn = 0
    for r in s.rows:
        m = modules.get(r.module)
        adaptive_identity = isinstance(m, nn.AdaptiveAvgPool2d) and r.out_shape == r.in_shape
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                          layers.LeNetC3, layers.Subsampling)) and not adaptive_identity:
            layers_drawn += 1
            assert diagram.shape_text(r.out_shape) in drawn, (r.name, r.out_shape)
            if op_label(m):
                assert any(op_label(m) in t for t in drawn), (r.name, op_label(m))
    assert len(gids(fig, "box:")) == layers_drawn + 1                       # one box a layer
    assert not any(t and t in "×‖+" for t in drawn)                          # no block marks


def test_alexnet_shows_where_55_comes_from():
    """227×227×3 in, conv1 11×11 /4, 55×55×96 out: (227 − 11)/4 + 1 = 55, off the figure alone."""
    fig = plot.architecture(meta(alexnet), (3, 227, 227))
    drawn = texts(fig)
    for label in ("input", "227×227×3", "conv1", "11×11 /4", "55×55×96", "pool1", "max 3×3 /2",
                  "27×27×96", "5×5 /1 p2 g2", "13×13×384", "6×6×256", "fc6", "4096", "1000"):
        assert label in drawn, label
    assert drawn.index("227×227×3") < drawn.index("55×55×96") < drawn.index("27×27×96")
    assert "Sequential, input 227×227×3" in drawn                           # the default title
    titled = plot.architecture(meta(alexnet), (3, 227, 227), title="AlexNet (2012)")
    assert "AlexNet (2012)" in texts(titled)


def test_vgg_stacks_same_size_convolutions_into_one_column():
    fig = plot.architecture(meta(lambda: layers.VGG("D")), (3, 224, 224))
    drawn = texts(fig)
    assert drawn.count("conv ×2") == 2 and drawn.count("conv ×3") == 3      # VGG-16's 2-2-3-3-3
    assert drawn.count("224×224×64") == 1 and "3×3 /1 p1" in drawn
    assert len(gids(fig, "box:features.")) == 13 + 5                        # a slab each


# --- branching networks: one box per block ------------------------------------------------------

BRANCHING = {  # name: (build, input size, number of blocks, the mark each block must carry)
    "googlenet": (googlenet, (3, 224, 224), 9, "‖"),
    "inception_v3": (inception_v3, (3, 299, 299), 11, "‖"),
    "resnet18": (tvm.resnet18, (3, 224, 224), 8, "+"),
    "resnet50": (tvm.resnet50, (3, 224, 224), 16, "+"),
    "resnext50_32x4d": (tvm.resnext50_32x4d, (3, 224, 224), 16, "+"),
    "densenet121": (tvm.densenet121, (3, 224, 224), 4, "‖"),
    "mobilenet_v2": (tvm.mobilenet_v2, (3, 224, 224), 17, ""),
    "efficientnet_b0": (tvm.efficientnet_b0, (3, 224, 224), 16, "×"),
}
BLOCK_TYPES = ("Inception", "InceptionA", "InceptionB", "InceptionC", "InceptionD", "InceptionE",
               "BasicBlock", "Bottleneck", "_DenseBlock", "InvertedResidual", "MBConv")


@pytest.mark.parametrize("name", list(BRANCHING))
def test_block_view_has_one_marked_box_per_block(name):
    make, size, n_blocks, mark = BRANCHING[name]
    model = meta(make)
    fig = plot.architecture(model, size)
    drawn = texts(fig)
    s = ar.summary(model, size).blocks()
    blocks = [r for r in s.grouped if r.children and r.type in BLOCK_TYPES]
    assert len(blocks) == n_blocks
    boxes = gids(fig, "box:")
    for r in blocks:
        assert f"box:{r.name}" in boxes, r.name                              # its own box
        assert diagram.shape_text(r.out_shape) in drawn, (r.name, r.out_shape)
    assert sum(t.count(mark) for t in drawn if len(t) <= 5) >= n_blocks     # marks on the boxes
    assert len(boxes) < 30                                                   # one figure's worth
    assert fig.get_size_inches()[0] <= 9


def test_googlenet_inception3a_is_one_box_of_256_channels_at_28():
    fig = plot.architecture(meta(googlenet), (3, 224, 224))
    drawn = texts(fig)
    assert "box:inception3a" in gids(fig, "box:")
    assert "28×28×256" in drawn and "28×28×480" in drawn and "inception4a–c" in drawn
    assert "‖ concatenation" in " ".join(drawn)


def test_resnet50_fits_one_figure_stem_blocks_head():
    fig = plot.architecture(meta(tvm.resnet50), (3, 224, 224))
    boxes = gids(fig, "box:")
    assert boxes[:3] == ["box:input", "box:conv1", "box:maxpool"]           # the stem
    assert len([b for b in boxes if b.startswith("box:layer")]) == 16
    assert boxes[-2:] == ["box:avgpool", "box:fc"]                           # the head
    drawn = texts(fig)
    assert "layer3.0–5" in drawn and "7×7 /2 p3" in drawn and "56×56×256" in drawn
    assert fig.get_size_inches()[0] <= 7.0 + 1e-9                           # the page's width


def test_efficientnet_shows_the_squeeze_excitation_gate():
    fig = plot.architecture(meta(tvm.efficientnet_b0), (3, 224, 224))
    drawn = texts(fig)
    marks = [t for t in drawn if t and set(t) <= set("×‖+\n")]
    assert len(marks) == 16 and all("×" in t for t in marks)                # every MBConv gates
    assert sum("+" in t for t in marks) == 9                                 # 9 of 16 are residual
    assert any("× channel gate" in t for t in drawn)


def test_blocks_option_forces_either_view():
    plain = plot.architecture(meta(tvm.resnet18), (3, 224, 224), blocks=False)
    assert "box:layer1.0.conv1" in gids(plain, "box:")
    nin_blocks = plot.architecture(meta(nin), (3, 32, 32), blocks=True)
    assert "box:mlpconv1" in gids(nin_blocks, "box:")


# --- one block, expanded ------------------------------------------------------------------------

def test_expanded_inception3a_has_four_branches_and_a_concat():
    model = meta(googlenet)
    fig = plot.architecture(model, (3, 224, 224), expand="inception3a")
    assert gids(fig, "merge:") == ["merge:concat:4"]                         # 4 branches meet
    boxes = gids(fig, "box:")
    firsts = ["box:branch1", "box:branch2.0", "box:branch3.0", "box:branch4.0"]
    assert all(b in boxes for b in firsts)
    drawn = texts(fig)
    for label in ("28×28×192", "28×28×64", "28×28×128", "28×28×32", "28×28×256", "concat",
                  "3×3 /1 p1", "max 3×3 /1 p1 ceil"):
        assert label in drawn, label
    # the four branches lie side by side: their first boxes share a column, in four lanes
    heights = {round(p.get_path().vertices[:, 1].min(), 3) for p in fig.findobj(
        lambda a: a.get_gid() in firsts)}
    assert len(heights) == 4
    same = plot.block(model.inception3a, (192, 28, 28))
    assert gids(same, "merge:") == ["merge:concat:4"]


def test_expanded_residual_and_gated_blocks():
    resnet = meta(tvm.resnet50)
    fig = plot.block(resnet.layer1[0], (64, 56, 56))                         # with its projection
    assert gids(fig, "merge:") == ["merge:add:2"] and "box:downsample" in gids(fig, "box:")
    fig = plot.block(resnet.layer1[1], (256, 56, 56))                        # identity shortcut
    assert gids(fig, "merge:") == ["merge:add:2"] and len(gids(fig, "box:")) == 4
    mbconv = meta(tvm.efficientnet_b0).features[2][1]
    fig = plot.block(mbconv, (24, 56, 56))
    assert sorted(gids(fig, "merge:")) == ["merge:add:2", "merge:multiply:2"]
    assert "global avg" in texts(fig) and "3×3 /1 p1 dw" in texts(fig)


def test_expanded_dense_block_draws_one_box_per_layer():
    block = meta(tvm.densenet121).features.denseblock1
    fig = plot.block(block, (64, 56, 56))
    assert gids(fig, "merge:") == ["merge:concat:7"]                         # input + 6 layers
    assert len(gids(fig, "box:denselayer")) == 6 and "56×56×256" in texts(fig)


def test_untraceable_block_falls_back_with_a_message():
    class DataDependent(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)

        def forward(self, x):
            return self.conv(x) if x.sum() >= 0 else self.conv(-x)           # fx cannot branch

    fig = plot.block(DataDependent(), (3, 8, 8))
    drawn = texts(fig)
    assert any("torch.fx cannot trace" in t for t in drawn) and "6×6×8" in drawn


def test_expand_names_a_block_that_ran():
    with pytest.raises(KeyError, match="inception3a"):
        plot.architecture(meta(googlenet), (3, 224, 224), expand="inception9z")


# --- page width, rendering, imports ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["AlexNet", "VGG-16", "LeNet-5"])
def test_fits_the_page_and_renders_to_png(name):
    model, size = build(name)
    fig = plot.architecture(model, size)
    assert fig.get_size_inches()[0] <= 9
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    png = buffer.getvalue()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")                                # the IHDR chunk
    assert 200 < width <= 900


def test_plot_reexports_and_no_import_cycle():
    assert plot.architecture is diagram.architecture and plot.block is diagram.block
    for module in ("diagram", "style"):
        tree = ast.parse((ROOT / "utils" / f"{module}.py").read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {f"utils.{a.name}" for n in ast.walk(tree)
                     if isinstance(n, ast.ImportFrom) and n.module == "utils" for a in n.names}
        assert not imported & {"utils.plot", "utils.train"}, (module, imported)
