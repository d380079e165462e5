"""The AlexNet chapter's local response normalisation, step by step, against utils.layers and PyTorch.

The chapter (chapters/01_alexnet.ipynb) writes the paper's formula (§3.3) as an explicit loop over
channels; `lrn_step_by_step` below is that same code. These tests prove that the final form in
`utils.layers.LocalResponseNorm` computes the same thing, and that it equals PyTorch's
`nn.LocalResponseNorm` only once alpha is multiplied by n (PyTorch divides alpha by n).

The networks in utils/layers/alexnet.py are checked against the chapter's own classes, taken from
the notebook: ``AlexNet`` (two-GPU and single-tower) and ``alexnet_cifar()`` (the chapter's
``AlexNetCIFAR``) have the same state dict, the same initial weights for the same seed and the same
output for the same weights; the ZFNet chapter builds ``AlexNet`` from here.
"""

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.layer_checks import build, chapter_definitions, same_init
from utils.layers import AlexNet, AlexNetCIFAR, LocalResponseNorm, alexnet_cifar, same_as_reference

ROOT = Path(__file__).resolve().parent.parent


def lrn_step_by_step(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    """b^i = a^i / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} (a^j)^2)^beta, channel by channel."""
    N = a.shape[1]
    b = torch.empty_like(a)
    for i in range(N):
        lo, hi = max(0, i - n // 2), min(N - 1, i + n // 2)
        sum_of_squares = (a[:, lo : hi + 1] ** 2).sum(dim=1)
        b[:, i] = a[:, i] / (k + alpha * sum_of_squares) ** beta
    return b


def activations(seed=0, shape=(2, 16, 7, 7), scale=30.0):
    """ReLU outputs large enough that the denominator is far from k**beta (otherwise any alpha passes)."""
    g = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(shape, generator=g, dtype=torch.float64) * scale)


def test_defaults_are_the_papers_constants():
    lrn = LocalResponseNorm()
    assert (lrn.size, lrn.k, lrn.alpha, lrn.beta) == (5, 2.0, 1e-4, 0.75)
    assert sum(p.numel() for p in lrn.parameters()) == 0  # LRN has no learnable parameters


@pytest.mark.parametrize("channels", [1, 3, 5, 16, 96])
def test_utils_version_equals_the_chapters_step_by_step_formula(channels):
    a = activations(shape=(2, channels, 5, 5))
    torch.testing.assert_close(LocalResponseNorm()(a), lrn_step_by_step(a), rtol=1e-12, atol=1e-12)


def test_other_constants_agree_too():
    a = activations(seed=1)
    ours = LocalResponseNorm(size=3, alpha=2e-3, beta=0.5, k=1.0)(a)
    torch.testing.assert_close(ours, lrn_step_by_step(a, n=3, k=1.0, alpha=2e-3, beta=0.5))


def test_utils_version_equals_pytorch_with_alpha_times_n():
    a = activations(seed=2)
    pytorch = nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)
    torch.testing.assert_close(LocalResponseNorm()(a), pytorch(a), rtol=1e-12, atol=1e-12)


def test_pytorch_with_the_papers_alpha_is_a_different_layer():
    """The trap: nn.LocalResponseNorm(5, alpha=1e-4, k=2) uses alpha/n = 2e-5, not the paper's 1e-4."""
    a = activations(seed=3)
    trap = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)(a)
    assert not torch.allclose(trap, LocalResponseNorm()(a), rtol=1e-3, atol=0)


def test_works_in_float32_and_keeps_shape():
    a = activations(seed=4).float()
    out = LocalResponseNorm()(a)
    assert out.shape == a.shape and out.dtype == torch.float32
    torch.testing.assert_close(out, lrn_step_by_step(a), rtol=1e-5, atol=1e-6)


def test_bad_size_is_a_clear_error():
    with pytest.raises(ValueError, match="size"):
        LocalResponseNorm(size=0)


def test_alexnet_is_the_chapters_alexnet():
    """The paper's two-GPU network, on the same weights and a 227×227 image."""
    chapter = chapter_definitions("01_alexnet", "AlexNet", graduated="AlexNet")
    ours, theirs = build(AlexNet, seed=None), build(chapter["AlexNet"])
    check = same_as_reference(ours, theirs, (3, 227, 227), batch=1).assert_ok()
    assert check.params[0] == 60_965_224
    assert [n for n, _ in ours.named_children()] == \
        [n for n, _ in theirs.named_children()]                    # same modules, same order


def test_single_tower_alexnet_is_the_chapters():
    chapter = chapter_definitions("01_alexnet", "AlexNet", graduated="AlexNet")
    with torch.device("meta"):
        check = same_as_reference(AlexNet(groups=1), chapter["AlexNet"](groups=1)).assert_ok()
    assert check.params[0] == 62_378_344                      # dense conv2, conv4, conv5


def test_alexnet_cifar_is_the_chapters_alexnet_cifar():
    chapter = chapter_definitions("01_alexnet", "AlexNetCIFAR", graduated="alexnet_cifar")
    same_as_reference(alexnet_cifar(), chapter["AlexNetCIFAR"](), (3, 32, 32)).assert_ok()
    assert same_init(alexnet_cifar, chapter["AlexNetCIFAR"])       # and the same He initialisation
    assert type(alexnet_cifar()) is AlexNetCIFAR and alexnet_cifar(100).fc8.out_features == 100


def test_zfnet_chapter_uses_the_graduated_alexnet():
    """The ZFNet chapter once rebuilt the paper's network by hand (``alexnet_two_gpu``); it now
    builds ``layers.AlexNet`` and defines no AlexNet of its own."""
    cells = json.loads((ROOT / "chapters" / "02_zfnet.ipynb").read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "layers.AlexNet(" in code
    assert not re.search(r"^(def|class) \w*[Aa]lex\w*", code, flags=re.MULTILINE)