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
- ``densenet``: DenseNet (Huang et al., 2017), chapters/11_densenet.ipynb: torchvision's
  DenseNet-121 … 201 module for module (``memory_efficient`` included), DenseNet-264 and the
  paper's CIFAR networks (DenseNet, DenseNet-BC: ``densenet_cifar``);
- ``googlenet``: GoogLeNet (Szegedy et al., 2015), chapters/05_googlenet.ipynb: the paper's
  network (Table 1 as data, true 5×5 branches, auxiliary heads), torchvision's variant and the
  course's CIFAR-10 network (Table 1 at half width, ``googlenet_cifar``);
- ``bn_inception``: batch normalisation's BN-Inception (Ioffe & Szegedy, 2015),
  chapters/06_batch_norm.ipynb: the paper's Figure 5 table, its network and a CIFAR-10 version,
  and the small network of the chapter's with/without-BN experiments;
- ``inception_v3``: Inception v3 (Szegedy et al., 2016), chapters/07_inception_v3.ipynb:
  torchvision's ``inception_v3`` module for module (the paper's Figure 5, 6 and 7 modules and the
  two grid reductions) and the course's reduced CIFAR-10 network;
- ``inception_v4``: Inception-v4 and Inception-ResNet (Szegedy et al., 2017),
  chapters/09_inception_v4.ipynb: the paper's modules, Inception-v4 and the released
  Inception-ResNet-v2 equal to timm's, Inception-ResNet-v1 from the figures, and the course's
  CIFAR-10 Inception-ResNet (with or without its shortcuts);
- ``resnet``: ResNet (He et al., 2016), chapters/08_resnet.ipynb: torchvision's ResNet-18 … 152
  module for module, the paper's CIFAR-10 networks (options A and B, plain) and the course's
  ResNet-18 for CIFAR-10 (``resnet18_cifar``); its ``Bottleneck`` and ``ResNet`` also take
  ResNeXt's ``groups``/``width_per_group`` and SENet's ``se``;
- ``resnext``: ResNeXt (Xie et al., 2017), chapters/10_resnext.ipynb: the three equivalent
  forms of the block (Figure 3), torchvision's and timm's ImageNet networks, and the CIFAR-10
  ResNeXt-29 of the paper's §5 (``resnext29_cifar``);
- ``senet``: squeeze-and-excitation networks (Hu et al., 2018), chapters/12_senet.ipynb: the SE
  block with the paper's names, SE-ResNet-50 (timm's ``seresnet50``), SE-Inception and the CIFAR-10
  SE-ResNets;
- ``mobilenet``: MobileNet (Howard et al., 2017), chapters/13_mobilenet.ipynb: the depthwise
  separable block, Table 1's network with the width multiplier α (timm's ``mobilenetv1_100`` at
  α = 1) and the CIFAR-10 version;
- ``mobilenet_v2``: MobileNetV2 (Sandler et al., 2018), chapters/14_mobilenet_v2.ipynb: the
  inverted residual with its linear bottleneck, torchvision's ``mobilenet_v2`` module for module,
  and the CIFAR-10 version with kuangliu's strides;
- ``efficientnet``: EfficientNet (Tan & Le, 2019), chapters/15_efficientnet.ipynb: MBConv,
  torchvision's EfficientNet-B0 … B7 module for module, and a CIFAR-10 version scaled by width
  and depth;
- ``common``: the pieces that later families share (conv–BN–activation, squeeze-and-excitation,
  channel rounding, stochastic depth), each equal to its ``torchvision.ops`` counterpart;
- ``reference``: ``same_as_reference``, the check that a network is the reference one, and
  ``random_weights``, a full-size network with seeded random weights in a fraction of the time.

Conventions: ``in_channels``, ``out_channels`` and ``stride`` as ``nn.Conv2d`` names them; a
class for the paper's network (``AlexNet``, ``ZFNet``, ``VGG``, …) and a ``<net>_cifar()``
function for the course's CIFAR-10 adaptation (``alexnet_cifar()``, ``vgg16_cifar()``, …).
"""

from .alexnet import AlexNet, AlexNetCIFAR, LocalResponseNorm, alexnet_cifar
from .bn_inception import (BN_INCEPTION_TABLE, BNInception, ConvBlock, InceptionBN,
                           NoisyBatchNorm2d, SeparableBasicConv2d, SeparableConv2d, SmallConvNet,
                           bn_inception_cifar)
from .common import (ConvBNAct, SqueezeExcitation, StochasticDepth, drop_path, he_init,
                     make_divisible)
from .densenet import (DenseBlock, DenseLayer, DenseNet, DenseNetCIFAR, Transition, densenet121,
                       densenet161, densenet169, densenet201, densenet264, densenet_cifar)
from .googlenet import (GOOGLENET_TABLE, BasicConv2d, GoogLeNet, GoogLeNetCIFAR, GoogLeNetOutputs,
                        Inception, InceptionAux, cifar_table, googlenet_cifar)
# (the builder inception_v3() stays in its module: exported here it would shadow the module)
from .inception_v3 import (AuxiliaryClassifier, GridReduction17, GridReduction35, InceptionFig5,
                           InceptionFig6, InceptionFig7, InceptionV3, InceptionV3CIFAR,
                           inception_v3_cifar)
# (likewise inception_v4(): ``layers.inception_v4`` is the module)
from .inception_v4 import (InceptionA, InceptionB, InceptionC, InceptionResNetA,
                           InceptionResNetB, InceptionResNetC, InceptionResNetCIFAR,
                           InceptionResNetV1, InceptionResNetV2, InceptionV4, ReductionA,
                           ReductionB, ReductionBRes, StemResV1, StemV3, StemV4,
                           inception_resnet_cifar, inception_resnet_v1, inception_resnet_v2)
from .efficientnet import (B0_STAGES, EFFICIENTNET_PARAMS, EfficientNet, MBConv,
                           efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3,
                           efficientnet_b4, efficientnet_b5, efficientnet_b6, efficientnet_b7,
                           efficientnet_cifar)
from .lenet import (LENET_C3_TABLE, EuclideanRBF, LeNet5, LeNetC3, ScaledTanh, Subsampling,
                    lenet5_cifar, lenet_c3_table)
# (the builders mobilenet() and mobilenet_v2() stay in their modules, as inception_v3() does)
from .mobilenet import MOBILENET_TABLE, DepthwiseSeparable, MobileNet, mobilenet_cifar
from .mobilenet_v2 import (MOBILENET_V2_CIFAR_SETTING, MOBILENET_V2_SETTING, InvertedResidual,
                           MobileNetV2, mobilenet_v2_cifar)
from .nin import MLPConv, NiNCIFAR, NiNImageNet, nin_cifar
from .reference import ReferenceCheck, random_weights, same_as_reference
from .resnet import (BasicBlock, Bottleneck, ResNet, ResNetCIFAR, ZeroPadShortcut, resnet18,
                     resnet18_cifar, resnet34, resnet50, resnet101, resnet152, resnet_cifar)
from .resnext import (AggregatedBlock, ConcatBlock, ResNeXtCIFAR, from_grouped,
                      resnext29_cifar, resnext50_32x4d, resnext101_32x4d, resnext101_32x8d,
                      resnext101_64x4d)
from .senet import (SEBlock, SEInception, SEResNetCIFAR, add_se, se_factory, se_parameters,
                    se_resnet18_cifar, se_resnet50, se_resnet_cifar)
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
    "cifar_table", "GoogLeNetCIFAR", "googlenet_cifar",
    # batch normalisation
    "BN_INCEPTION_TABLE", "SeparableConv2d", "SeparableBasicConv2d", "InceptionBN", "BNInception",
    "bn_inception_cifar", "NoisyBatchNorm2d", "ConvBlock", "SmallConvNet",
    # Inception v3
    "InceptionFig5", "GridReduction35", "InceptionFig6", "GridReduction17", "InceptionFig7",
    "AuxiliaryClassifier", "InceptionV3", "InceptionV3CIFAR", "inception_v3_cifar",
    # Inception-v4 and Inception-ResNet
    "StemV4", "InceptionA", "ReductionA", "InceptionB", "ReductionB", "InceptionC", "InceptionV4",
    "InceptionResNetA", "InceptionResNetB", "InceptionResNetC", "ReductionBRes", "StemV3",
    "InceptionResNetV2", "StemResV1", "InceptionResNetV1", "InceptionResNetCIFAR",
    "inception_resnet_v2", "inception_resnet_v1", "inception_resnet_cifar",
    # ResNet
    "BasicBlock", "Bottleneck", "ZeroPadShortcut", "ResNet", "resnet18", "resnet34", "resnet50",
    "resnet101", "resnet152", "ResNetCIFAR", "resnet_cifar", "resnet18_cifar",
    # ResNeXt
    "AggregatedBlock", "ConcatBlock", "from_grouped", "resnext50_32x4d", "resnext101_32x4d",
    "resnext101_32x8d", "resnext101_64x4d", "ResNeXtCIFAR", "resnext29_cifar",
    # DenseNet
    "DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121", "densenet169",
    "densenet201", "densenet264", "densenet161", "DenseNetCIFAR", "densenet_cifar",
    # SENet
    "SEBlock", "se_factory", "se_resnet50", "se_resnet18_cifar", "SEResNetCIFAR", "se_resnet_cifar",
    "SEInception", "add_se", "se_parameters",
    # shared by later families
    "ConvBNAct", "SqueezeExcitation", "make_divisible", "drop_path", "StochasticDepth", "he_init",
    # checks
    "same_as_reference", "ReferenceCheck", "random_weights",
]
