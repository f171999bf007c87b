"""The PyTorch frontend (torch.export -> IR): small modules covering every mapped ATen op,
compared with torch at the output and at every leaf module (through provenance naming),
both as exported and after ``run_decompositions()``; the zoo MobileNetV2 layer by layer on
real images; unsupported ops listed all at once; loading rules (.pt2 loads, pickled modules
and TorchScript refused without trust).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from convmend import _core  # noqa: E402
from convmend.errors import ConvmendError  # noqa: E402
from convmend.frontends import UnsupportedLayers  # noqa: E402
from convmend.frontends import torch as frontend  # noqa: E402

TOLERANCE = 1e-5


def relative_error(ours: np.ndarray, ref: np.ndarray) -> float:
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    diff = float(np.max(np.abs(ours.astype(np.float64) - ref))) if ref.size else 0.0
    return diff / scale if scale > 0 else diff


def leaf_outputs(module: nn.Module, x: torch.Tensor) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The module's output and what a forward hook on each leaf module sees (last call)."""
    seen: dict[str, np.ndarray] = {}
    handles = []
    for name, m in module.named_modules():
        if name and not any(True for _ in m.children()):
            def hook(_m, _i, out, name=name):
                if isinstance(out, torch.Tensor):
                    seen[name] = out.detach().numpy().copy()
            handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            out = module(x)
    finally:
        for h in handles:
            h.remove()
    return out.detach().numpy(), seen


def check_against_torch(module: nn.Module, x: torch.Tensor, graph,
                        opless: Sequence[str] = ()) -> dict[str, float]:
    """IR vs torch at the output and at every hooked leaf (but ``opless`` ones, whose
    forward leaves no op in the program); returns the per-layer errors."""
    ref, seen = leaf_outputs(module.eval(), x)
    for name in opless:
        seen.pop(name)
    values = {o for n in graph.nodes() for o in n["outputs"]}
    missing = [name for name in seen if name not in values]
    assert not missing, f"leaf modules without an IR value of their name: {missing}"
    outs, traced = _core.Interpreter(graph).run_traced([x.numpy()], list(seen))
    assert outs[0].shape == ref.shape
    errors = {"<output>": relative_error(outs[0], ref)}
    for name, value in seen.items():
        assert traced[name].shape == value.shape, name
        errors[name] = relative_error(traced[name], value)
    bad = {k: v for k, v in errors.items() if v > TOLERANCE}
    assert not bad, bad
    return errors


# --------------------------------------------------------------------------- small modules


class ConvStack(nn.Module):
    """Stride 2, groups, dilation, depthwise, bias False, non-square kernels, odd sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(8, 12, 3, padding=2, dilation=2, groups=4)
        self.bn2 = nn.BatchNorm2d(12, eps=1e-3)
        self.act2 = nn.ReLU6(inplace=True)
        self.dw = nn.Conv2d(12, 12, (3, 5), stride=(2, 1), padding=(1, 2), groups=12)
        self.same = nn.Conv2d(12, 6, 3, padding="same", dilation=2)
        self.valid = nn.Conv2d(6, 5, (1, 3), padding="valid", bias=False)
        self.bn3 = nn.BatchNorm2d(5, affine=False)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        return self.bn3(self.valid(self.same(self.dw(x))))


class Pools(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mp = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.mp_pad = nn.MaxPool2d(3, 2, padding=1, dilation=1)
        self.ap = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False)
        self.ap_incl = nn.AvgPool2d(2, padding=1, count_include_pad=True, ceil_mode=True)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.ap2 = nn.AdaptiveAvgPool2d((2, 3))
        self.gmp = nn.AdaptiveMaxPool2d(1)

    def forward(self, x):
        a = self.mp(x)
        b = self.mp_pad(x)
        c = self.ap(x)
        d = self.ap_incl(x)
        e = F.max_pool2d(x, 2, 1, 0, 2)
        f = F.avg_pool2d(x, (2, 3), (1, 2))
        pooled = [self.gap(a), self.gap(b), self.gap(c), self.gap(d), self.gap(e),
                  self.gap(f), self.gmp(x), self.ap2(x[:, :, :12, :12]).mean((2, 3), True)]
        return torch.cat(pooled, 1).flatten(1)


class Activations(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.sig = nn.Sigmoid()
        self.hs = nn.Hardswish()
        self.hsig = nn.Hardsigmoid()
        self.gelu = nn.GELU()
        self.gelu_tanh = nn.GELU(approximate="tanh")
        self.silu = nn.SiLU()
        self.tanh = nn.Tanh()
        self.leaky = nn.LeakyReLU(0.1)
        self.hardtanh = nn.Hardtanh(-0.5, 0.75)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        parts = [self.sig(x), self.hs(x * 4), self.hsig(x * 4), self.gelu(x), self.gelu_tanh(x),
                 self.silu(x), self.tanh(x), self.leaky(x), self.hardtanh(x),
                 torch.clamp(x, min=-0.2), torch.clamp(x, -0.3, 0.4), F.relu6(x * 8),
                 self.softmax(x), torch.softmax(x, -1)]
        return torch.cat(parts, 1)


class Arithmetic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("offset", torch.linspace(-1.0, 1.0, 7).reshape(1, 1, 1, 7))
        self.scale = nn.Parameter(torch.full((1, 5, 1, 1), 1.5))

    def forward(self, x):
        y = x + self.offset
        y = y * self.scale - 0.25
        y = y / 3.0 + x / (self.scale + 1.0)
        y = torch.sub(y, x, alpha=2) + torch.add(x, y, alpha=0.5)
        y = 1.0 - y
        z = y.clone()
        z.relu_()  # in place: later readers of z see the new value
        z = z.contiguous() * 2
        return torch.cat([y, z], 1)


class Shapes(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5 * 6 * 7, 11)
        self.fc_nobias = nn.Linear(7, 4, bias=False)
        self.fc3 = nn.Linear(7, 3)
        self.drop = nn.Dropout(0.3)
        self.drop2d = nn.Dropout2d(0.3)
        self.flat = nn.Flatten()

    def forward(self, x):  # x: [1, 5, 6, 7]
        a = self.fc(self.drop(self.flat(self.drop2d(x))))
        b = self.fc_nobias(x).permute(0, 3, 1, 2).reshape(1, -1)
        c = self.fc3(x.transpose(2, 3).transpose(2, 3)).view(1, -1)
        d = torch.matmul(x, x.transpose(-1, -2)).flatten(2).mean(-1)
        e, f, g = torch.split(x, [1, 2, 2], dim=1)
        h = torch.cat([g, e, f], 1).unsqueeze(0).squeeze(0).flatten(0, 1)
        i = torch.chunk(x, 2, dim=3)[1].sum(dim=(1, 2))
        j = x.mean(dim=(2, 3))
        return torch.cat([a, b, c, d, h.reshape(1, -1), i, j.t().reshape(1, -1)], 1)


class Padding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.zp = nn.ZeroPad2d((1, 2, 0, 3))
        self.cp = nn.ConstantPad2d(2, 0.5)
        self.rp = nn.ReflectionPad2d((2, 1, 1, 2))
        self.ep = nn.ReplicationPad2d(1)

    def forward(self, x):
        a = self.zp(x).mean((2, 3))
        b = self.cp(x).mean((2, 3))
        c = self.rp(x).mean((2, 3))
        d = self.ep(x).mean((2, 3))
        e = F.pad(x, (1, 1, 2, 0), value=-1.0).amax((2, 3))
        return torch.cat([a, b, c, d, e], 1)


class Matrix(nn.Module):
    """2-D linear algebra: linear, addmm/mm from explicit calls, a 2-D transpose."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(9, 6) * 0.3)
        self.b = nn.Parameter(torch.randn(6) * 0.1)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):  # x: [3, 9]
        y = torch.addmm(self.b, x, self.w)
        z = torch.mm(x, self.w) + torch.mm(y, self.w.t()[:, :6].t())
        return self.fc(torch.softmax(z, 1) - y)


CASES = {
    "conv": (ConvStack, (1, 3, 23, 17)),
    "pools": (Pools, (1, 4, 19, 15)),
    "activations": (Activations, (1, 3, 5, 7)),
    "arithmetic": (Arithmetic, (1, 5, 4, 7)),
    "shapes": (Shapes, (1, 5, 6, 7)),
    "padding": (Padding, (1, 3, 6, 5)),
    "matrix": (Matrix, (3, 9)),
}


def make_case(key: str) -> tuple[nn.Module, torch.Tensor]:
    cls, shape = CASES[key]
    torch.manual_seed(0)
    module = cls()
    for m in module.modules():  # non-trivial running statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            if m.affine:
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
    module.eval()
    return module, torch.randn(*shape)


@pytest.mark.parametrize("key", sorted(CASES))
def test_small_module_as_exported(key: str) -> None:
    module, x = make_case(key)
    graph = frontend.from_module(module, (x,))
    check_against_torch(module, x, graph)
    for node in graph.nodes():
        prov = node["provenance"]
        assert prov["format"] == "torch"
        assert prov["op_type"].startswith("aten."), prov
        assert prov["index"] >= 0


# Plain core-ATen decomposition turns reflection/replication pads into index arithmetic
# (arange + index), which the IR does not express; `frontend.decompose` keeps them.
@pytest.mark.parametrize("key", sorted(set(CASES) - {"padding"}))
def test_small_module_decomposed(key: str) -> None:
    module, x = make_case(key)
    program = torch.export.export(module, (x,)).run_decompositions()
    # eval-mode Dropout2d decomposes to nothing at all
    opless = ["drop2d"] if key == "shapes" else []
    check_against_torch(module, x, frontend.from_program(program), opless)


def test_unknown_ops_fall_back_to_decomposition() -> None:
    class Composite(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pad = nn.ReflectionPad2d(1)
            self.conv = nn.Conv2d(3, 6, 3)

        def forward(self, x):  # addcmul and glu have no direct mapping; they decompose
            y = F.glu(self.conv(self.pad(x)), 1)
            return torch.addcmul(y, y, y, value=0.5)

    module = Composite().eval()
    x = torch.randn(1, 3, 8, 9)
    graph = frontend.from_module(module, (x,))
    ops = {n["provenance"]["op_type"] for n in graph.nodes()}
    assert "aten.pad.default" in ops and "aten.addcmul.default" not in ops
    check_against_torch(module, x, graph)


def test_provenance_names_leaf_modules() -> None:
    module, x = make_case("conv")
    graph = frontend.from_module(module, (x,))
    by_output = {n["outputs"][0]: n for n in graph.nodes()}
    conv2 = by_output["conv2"]
    assert conv2["op"] == "Conv"
    assert conv2["attrs"]["group"] == 4 and list(conv2["attrs"]["dilations"]) == [2, 2]
    assert conv2["provenance"]["name"] == "conv2"
    assert conv2["provenance"]["op_type"] == "aten.conv2d.default"
    assert by_output["act2"]["op"] == "Clip"
    assert by_output["bn3"]["op"] == "BatchNormalization"
    constants = {v["name"]: v for v in graph.values() if v["constant"]}
    assert constants["conv1.weight"]["layout"] == "OIHW"
    assert "bn1.running_mean" in constants and "bn2.running_var" in constants


def test_shared_module_named_by_its_last_call() -> None:
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 1)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.conv(self.relu(x - 0.5)) + 1.0)

    module = Shared().eval()
    x = torch.randn(1, 2, 5, 5)
    check_against_torch(module, x, frontend.from_module(module, (x,)))


# --------------------------------------------------------------------------- the zoo


def test_zoo_mobilenet_v2_layer_by_layer() -> None:
    """The frontend's graph against the runner's hooked leaves, image by image; both read one
    loaded module (``convmend.loaded``), which export and the hooks leave as they found it."""
    from convmend import loaded
    from convmend.contract import contract_of
    from convmend.images import default_images
    from convmend.runners import TorchRunner
    from convmend.zoo import build

    path = build.torch_module("mobilenet_v2")
    loaded.clear()
    graph = frontend.load(path)
    runner = TorchRunner(path)
    assert runner._module is loaded.torch_module(path)
    leaves = runner.intermediate_names()
    values = {o for n in graph.nodes() for o in n["outputs"]}
    assert set(leaves) <= values
    interp = _core.Interpreter(graph)
    contract = contract_of(path)
    for item in default_images(count=4):
        x = contract.batch([item.load()])
        outs, traced = interp.run_traced([x], leaves)
        native = runner.run_with_intermediates(x, leaves)
        native_out = runner.run(x)[0]
        assert np.argmax(outs[0]) == np.argmax(native_out), item.name
        assert relative_error(outs[0], native_out) <= TOLERANCE
        errors = {n: relative_error(traced[n], native[n]) for n in leaves}
        worst = max(errors, key=errors.get)
        assert errors[worst] <= TOLERANCE, (item.name, worst, errors[worst])
    assert not any(m._forward_hooks for m in runner._module.modules())
    assert frontend.load(path).nodes() == graph.nodes()  # exported again from the shared module
    loaded.clear()


# --------------------------------------------------------------------------- errors, loading


def test_unsupported_ops_listed_together() -> None:
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.up = nn.ConvTranspose2d(3, 3, 2, stride=2)
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x):
            y = self.conv(x)
            return torch.cumsum(self.up(y), 2) + torch.cumsum(y, 3).sum()

    x = torch.randn(1, 3, 4, 4)
    with pytest.raises(UnsupportedLayers) as info:
        frontend.from_module(Odd().eval(), (x,))
    names = info.value.names
    assert len(names) == 2, names
    assert any("cumsum" in key for key in names)
    assert any("conv_transpose" in key for key in names)
    cumsum = next(key for key in names if "cumsum" in key)
    assert len(names[cumsum]) == 2
    assert "unsupported torch layers/ops (2)" in str(info.value)


def test_pt2_loads(tmp_path: Path) -> None:
    module, x = make_case("conv")
    path = tmp_path / "conv.pt2"
    torch.export.save(torch.export.export(module, (x,)), str(path))
    check_against_torch(module, x, frontend.load(path))


def test_pickled_module_and_torchscript_need_trust(tmp_path: Path) -> None:
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                           nn.Flatten(), nn.Linear(4, 2)).eval()
    pickled = tmp_path / "full.pt"
    torch.save(module, str(pickled))
    scripted = tmp_path / "scripted.pt"
    torch.jit.script(module).save(str(scripted))
    state = tmp_path / "state.pth"
    torch.save(module.state_dict(), str(state))
    with pytest.raises(ConvmendError, match="pickled module.*trust"):
        frontend.load(pickled)
    with pytest.raises(ConvmendError, match="TorchScript archive.*trust"):
        frontend.load(scripted)
    with pytest.raises(ConvmendError, match="without a zoo sidecar"):
        frontend.load(state)
    x = torch.randn(1, 3, 224, 224)
    ref = module(x).detach().numpy()
    for path in (pickled, scripted):
        graph = frontend.load(path, trust=True)
        out = _core.Interpreter(graph).run([x.numpy()])[0]
        assert relative_error(out, ref) <= TOLERANCE, path.name
