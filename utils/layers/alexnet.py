"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012, "ImageNet classification with deep convolutional
neural networks"): chapters/01_alexnet.ipynb.

The paper's local response normalisation, the paper's network ``AlexNet`` (the two-GPU network
with ``groups=2``, or the same layers on one device with ``groups=1``) and the course's CIFAR-10
adaptation ``alexnet_cifar()``. Both networks are written exactly as the chapter's classes
``AlexNet`` and ``AlexNetCIFAR`` (same modules, same names, same order), so that a state dict or a
random seed means the same thing in both; tests/test_layers_alexnet.py takes the chapter's classes
from the notebook and checks that. The ZFNet chapter rebuilt the two-GPU network as
``alexnet_two_gpu()``; it is this ``AlexNet(groups=2)``, with Sequential numbering instead of names.

torchvision's ``alexnet`` is a different network: a single tower with 64-192-384-256-256
filters and no normalisation. Krizhevsky's "One weird trick" (2014) lists 64-192-384-384-256;
torchvision's 256 in conv4 comes from cuda-convnet2's single-GPU configuration (pytorch/vision
PR #704). The chapter rebuilds torchvision's as ``AlexNetOWT`` and tests/test_reference_twins.py
checks that one against torchvision.
"""

import torch
from torch import nn

class LocalResponseNorm(nn.Module):
    """Local response normalisation across channels, as written in the AlexNet paper (§3.3).

    b_i = a_i / (k + alpha * sum_{j = max(0, i - n//2)}^{min(N - 1, i + n//2)} a_j**2) ** beta

    The defaults are the paper's constants: n = 5, k = 2, alpha = 1e-4, beta = 0.75.

    Why not ``nn.LocalResponseNorm`` directly? PyTorch divides ``alpha`` by ``n`` (it averages the
    squares instead of summing them), so the paper's layer is
    ``nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2)``. This class takes the paper's
    alpha and does that conversion once, in one place. For odd ``size`` (the paper's n = 5) the
    channel window is the paper's exactly; chapters/01_alexnet.ipynb derives it step by step and
    tests/test_layers_alexnet.py checks that the two agree.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0):
        super().__init__()
        if size < 1:
            raise ValueError(f"size (the paper's n) must be a positive number of channels, got {size}")
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.local_response_norm(
            x, self.size, alpha=self.size * self.alpha, beta=self.beta, k=self.k
        )

    def extra_repr(self) -> str:
        return f"n={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k} (paper's constants)"


class AlexNet(nn.Module):
    """The network of Krizhevsky et al. (2012), §3.5 and Figure 2, for 3×227×227 inputs.

    Five convolutions (96, 256, 384, 384, 256 filters; 11×11 stride 4, then 5×5, then 3×3), each
    followed by a ReLU; local response normalisation after the first two; overlapping 3×3
    stride-2 max-pooling after conv1, conv2 and conv5; two fully connected layers of 4096 units
    with dropout 0.5; and ``num_classes`` outputs. 227 is the input size that makes the paper's
    arithmetic work (the text says 224): 227 → 55 → 27 → 13 → 6, and 256·6·6 = 9216 inputs to fc6.

    ``groups=2``: the paper's two-GPU network, in which conv2, conv4 and conv5 see only their GPU's
    half of the channels (60,965,224 parameters). ``groups=1``: the same layers on one device
    ("single tower"). Weights keep PyTorch's default initialisation, as in the chapter (the paper
    drew them from N(0, 0.01) and set some biases to 1).
    """

    def __init__(self, num_classes=1000, groups=2):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, kernel_size=11, stride=4)
        self.relu1 = nn.ReLU(inplace=True)
        self.norm1 = LocalResponseNorm()           # n=5, k=2, α=1e-4, β=0.75
        self.pool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.conv2 = nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=groups)
        self.relu2 = nn.ReLU(inplace=True)
        self.norm2 = LocalResponseNorm()
        self.pool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.conv3 = nn.Conv2d(256, 384, kernel_size=3, padding=1)
        self.relu3 = nn.ReLU(inplace=True)
        self.conv4 = nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=groups)
        self.relu4 = nn.ReLU(inplace=True)
        self.conv5 = nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=groups)
        self.relu5 = nn.ReLU(inplace=True)
        self.pool5 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.flatten = nn.Flatten()
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.relu6 = nn.ReLU(inplace=True)
        self.drop6 = nn.Dropout(0.5)
        self.fc7 = nn.Linear(4096, 4096)
        self.relu7 = nn.ReLU(inplace=True)
        self.drop7 = nn.Dropout(0.5)
        self.fc8 = nn.Linear(4096, num_classes)

    def forward(self, x):
        x = self.pool1(self.norm1(self.relu1(self.conv1(x))))
        x = self.pool2(self.norm2(self.relu2(self.conv2(x))))
        x = self.relu3(self.conv3(x))
        x = self.relu4(self.conv4(x))
        x = self.pool5(self.relu5(self.conv5(x)))
        x = self.drop6(self.relu6(self.fc6(self.flatten(x))))
        x = self.drop7(self.relu7(self.fc7(x)))
        return self.fc8(x)


class AlexNetCIFAR(nn.Module):
    """AlexNet's plan for 32×32 images: five ReLU convolutions (pooling after the first, second
    and fifth), three fully connected layers with dropout on the first two, a quarter of the
    paper's widths. No local response normalisation and no groups (one device is enough).
    Built by ``alexnet_cifar()``; the chapter's class of the same name, module for module."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 24, kernel_size=5, padding=2)
        self.relu1 = nn.ReLU(inplace=True)
        self.pool1 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(24, 64, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU(inplace=True)
        self.pool2 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(64, 96, kernel_size=3, padding=1)
        self.relu3 = nn.ReLU(inplace=True)
        self.conv4 = nn.Conv2d(96, 96, kernel_size=3, padding=1)
        self.relu4 = nn.ReLU(inplace=True)
        self.conv5 = nn.Conv2d(96, 64, kernel_size=3, padding=1)
        self.relu5 = nn.ReLU(inplace=True)
        self.pool5 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.flatten = nn.Flatten()
        self.fc6 = nn.Linear(64 * 4 * 4, 1024)
        self.relu6 = nn.ReLU(inplace=True)
        self.drop6 = nn.Dropout(0.5)
        self.fc7 = nn.Linear(1024, 1024)
        self.relu7 = nn.ReLU(inplace=True)
        self.drop7 = nn.Dropout(0.5)
        self.fc8 = nn.Linear(1024, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        """He initialisation (weights scaled to each layer's fan-in, for ReLUs), zero biases, and
        small N(0, 0.01) weights for the classifier, so that training starts with even odds."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.fc8.weight, std=0.01)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu4(self.conv4(self.relu3(self.conv3(x))))
        x = self.pool5(self.relu5(self.conv5(x)))
        x = self.drop6(self.relu6(self.fc6(self.flatten(x))))
        x = self.drop7(self.relu7(self.fc7(x)))
        return self.fc8(x)


def alexnet_cifar(num_classes=10):
    """The course's AlexNet for CIFAR-10 (3×32×32 inputs): an ``AlexNetCIFAR``, He-initialised."""
    return AlexNetCIFAR(num_classes)
