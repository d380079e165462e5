"""ZFNet (Zeiler & Fergus, 2013, "Visualizing and understanding convolutional networks"):
chapters/02_zfnet.ipynb.

The paper's network ``ZFNet`` (Figure 3) and the course's CIFAR-10 adaptation ``zfnet_cifar()``,
written exactly as the chapter's classes ``ZFNet`` and ``ZFNetCIFAR`` (same modules, same names,
same order); tests/test_layers_zfnet.py takes the chapter's classes from the notebook and checks
that they agree. ZFNet is AlexNet (``alexnet.AlexNet``) with a smaller first layer and dense
connections, which is why it lives beside it as a family member.
"""

from torch import nn

from .alexnet import LocalResponseNorm


class ZFNet(nn.Module):
    """The network of Zeiler & Fergus (2013), Figure 3, for 3×224×224 inputs: AlexNet with 7×7
    stride-2 filters in layer 1, stride 2 in layer 2, and dense connections everywhere (no
    groups). Paddings follow cuda-convnet's rounding up, as the chapter explains: conv1 padding 1
    and ceil-mode pooling, so that 224 → 110 → 55 → 26 → 13 → 6 as in Figure 3. Local response
    normalisation comes after the pooling here (AlexNet normalises before).

    ``widths`` are the filters of layers 1–5 (Table 3 varies layers 3–5); ``fc`` the units of
    layers 6 and 7. Weights keep PyTorch's default initialisation, as in the chapter.
    """

    def __init__(self, num_classes=1000, widths=(96, 256, 384, 384, 256), fc=4096):
        super().__init__()
        c1, c2, c3, c4, c5 = widths
        self.conv1 = nn.Conv2d(3, c1, kernel_size=7, stride=2, padding=1)
        self.relu1 = nn.ReLU(inplace=True)
        self.pool1 = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.norm1 = LocalResponseNorm()
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=5, stride=2)
        self.relu2 = nn.ReLU(inplace=True)
        self.pool2 = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.norm2 = LocalResponseNorm()
        self.conv3 = nn.Conv2d(c2, c3, kernel_size=3, padding=1)
        self.relu3 = nn.ReLU(inplace=True)
        self.conv4 = nn.Conv2d(c3, c4, kernel_size=3, padding=1)
        self.relu4 = nn.ReLU(inplace=True)
        self.conv5 = nn.Conv2d(c4, c5, kernel_size=3, padding=1)
        self.relu5 = nn.ReLU(inplace=True)
        self.pool5 = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.flatten = nn.Flatten()
        self.fc6 = nn.Linear(c5 * 6 * 6, fc)
        self.relu6 = nn.ReLU(inplace=True)
        self.drop6 = nn.Dropout(0.5)
        self.fc7 = nn.Linear(fc, fc)
        self.relu7 = nn.ReLU(inplace=True)
        self.drop7 = nn.Dropout(0.5)
        self.fc8 = nn.Linear(fc, num_classes)

    def forward(self, x):
        x = self.norm1(self.pool1(self.relu1(self.conv1(x))))
        x = self.norm2(self.pool2(self.relu2(self.conv2(x))))
        x = self.relu3(self.conv3(x))
        x = self.relu4(self.conv4(x))
        x = self.pool5(self.relu5(self.conv5(x)))
        x = self.drop6(self.relu6(self.fc6(self.flatten(x))))
        x = self.drop7(self.relu7(self.fc7(x)))
        return self.fc8(x)


class ZFNetCIFAR(nn.Module):
    """ZFNet's plan for 32×32 images: five ReLU convolutions with overlapping max-pooling after
    the first, second and fifth, two dropout fully connected layers and a classifier. Built by
    ``zfnet_cifar()``; the chapter's class of the same name, module for module.

    ``features()`` lists the convolutional part in order, for the deconvnet. The ReLUs are not
    in-place: the chapter's deconvnet (``forward_with_switches``) keeps each layer's input, which
    an in-place ReLU would overwrite.
    """

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(64, 96, kernel_size=3, padding=1)
        self.relu3 = nn.ReLU()
        self.conv4 = nn.Conv2d(96, 96, kernel_size=3, padding=1)
        self.relu4 = nn.ReLU()
        self.conv5 = nn.Conv2d(96, 64, kernel_size=3, padding=1)
        self.relu5 = nn.ReLU()
        self.pool5 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.flatten = nn.Flatten()
        self.fc6 = nn.Linear(64 * 4 * 4, 512)
        self.relu6 = nn.ReLU()
        self.drop6 = nn.Dropout(0.5)
        self.fc7 = nn.Linear(512, 512)
        self.relu7 = nn.ReLU()
        self.drop7 = nn.Dropout(0.5)
        self.fc8 = nn.Linear(512, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        """He initialisation for the ReLU layers, zero biases, N(0, 0.01) for the classifier."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.fc8.weight, std=0.01)

    def features(self):
        """The convolutional part (conv1 … pool5), in order."""
        return [self.conv1, self.relu1, self.pool1, self.conv2, self.relu2, self.pool2,
                self.conv3, self.relu3, self.conv4, self.relu4, self.conv5, self.relu5, self.pool5]

    def forward(self, x):
        for m in self.features():
            x = m(x)
        x = self.drop6(self.relu6(self.fc6(self.flatten(x))))
        x = self.drop7(self.relu7(self.fc7(x)))
        return self.fc8(x)


def zfnet_cifar(num_classes=10):
    """The course's ZFNet for CIFAR-10 (3×32×32 inputs): a ``ZFNetCIFAR``, He-initialised."""
    return ZFNetCIFAR(num_classes)
