"""Blocks and networks that the chapters introduce, in the final form that later chapters import.

Each is developed step by step in its chapter; the version here is the one later chapters use,
and a test shows that the two agree (same parameters, same state dict, same output for the same
weights: the tests take the chapter's own definition out of the notebook). Names follow the
papers. One module per family, all re-exported here, so ``from utils import layers`` then
``layers.VGG`` or ``layers.LeNetC3`` works whatever the module:

- ``lenet``: LeNet-5 (LeCun et al., 1998), chapters/00_lenet5.ipynb;
- ``alexnet``: AlexNet (Krizhevsky et al., 2012), chapters/01_alexnet.ipynb;
- ``zfnet``: ZFNet (Zeiler & Fergus, 2013), chapters/02_zfnet.ipynb;
- ``nin``: Network in Network (Lin et al., 2013), chapters/03_nin.ipynb;
- ``vgg``: VGG (Simonyan & Zisserman, 2014), chapters/04_vgg.ipynb;
- ``googlenet``: GoogLeNet (Szegedy et al., 2015), for the coming chapters/05_googlenet.ipynb: the
  paper's network (Table 1 as data, true 5×5 branches, auxiliary heads) and torchvision's variant;
- ``resnet``: ResNet (He et al., 2016), for the coming chapters/08_resnet.ipynb: torchvision's
  ResNet-18 … 152 module for module, and the paper's CIFAR-10 networks (options A and B, plain);
- ``common``: the pieces that later families share (conv–BN–activation, squeeze-and-excitation,
  channel rounding, stochastic depth), each equal to its ``torchvision.ops`` counterpart;
- ``reference``: ``same_as_reference``, the check that a network is the reference one.

Conventions: ``in_channels``, ``out_channels`` and ``stride`` as ``nn.Conv2d`` names them; a
class for the paper's network (``AlexNet``, ``ZFNet``, ``VGG``, …) and a ``<net>_cifar()``
function for the course's CIFAR-10 adaptation (``alexnet_cifar()``, ``vgg16_cifar()``, …).
"""

from .alexnet import AlexNet, AlexNetCIFAR, LocalResponseNorm, alexnet_cifar
from .common import ConvBNAct, SqueezeExcitation, StochasticDepth, drop_path, make_divisible
from .googlenet import (GOOGLENET_TABLE, BasicConv2d, GoogLeNet, GoogLeNetOutputs, Inception,
                        InceptionAux)
from .lenet import (LENET_C3_TABLE, EuclideanRBF, LeNet5, LeNetC3, ScaledTanh, Subsampling,
                    lenet5_cifar, lenet_c3_table)
from .nin import MLPConv, NiNCIFAR, NiNImageNet, nin_cifar
from .reference import ReferenceCheck, same_as_reference
from .resnet import (BasicBlock, Bottleneck, ResNet, ResNetCIFAR, ZeroPadShortcut, resnet18,
                     resnet34, resnet50, resnet101, resnet152, resnet_cifar)
from .vgg import (_VGG_STAGES, VGG, VGG_CONFIGS, VGG_NAMES, _vgg_config, make_vgg_layers,
                  vgg16_cifar, vgg_cifar)
from .zfnet import ZFNet, ZFNetCIFAR, zfnet_cifar

__all__ = [
    # LeNet-5
    "LENET_C3_TABLE", "lenet_c3_table", "ScaledTanh", "Subsampling", "LeNetC3", "EuclideanRBF",
    "LeNet5", "lenet5_cifar",
    # AlexNet and ZFNet
    "LocalResponseNorm", "AlexNet", "AlexNetCIFAR", "alexnet_cifar",
    "ZFNet", "ZFNetCIFAR", "zfnet_cifar",
    # Network in Network
    "MLPConv", "NiNCIFAR", "NiNImageNet", "nin_cifar",
    # VGG
    "VGG_CONFIGS", "VGG_NAMES", "make_vgg_layers", "VGG", "vgg_cifar", "vgg16_cifar",
    # GoogLeNet
    "GOOGLENET_TABLE", "BasicConv2d", "Inception", "InceptionAux", "GoogLeNet", "GoogLeNetOutputs",
    # ResNet
    "BasicBlock", "Bottleneck", "ZeroPadShortcut", "ResNet", "resnet18", "resnet34", "resnet50",
    "resnet101", "resnet152", "ResNetCIFAR", "resnet_cifar",
    # shared by later families
    "ConvBNAct", "SqueezeExcitation", "make_divisible", "drop_path", "StochasticDepth",
    # checks
    "same_as_reference", "ReferenceCheck",
]
