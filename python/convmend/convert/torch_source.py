"""Loading a PyTorch model given as a file, for converters that take an ``nn.Module``."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_module(path: str | Path) -> Any:
    """An eval-mode module from a zoo state dict (``.pth`` with its sidecar naming the
    architecture) or a ``torch.export`` program (``.pt2``)."""
    import torch

    path = Path(path)
    if path.suffix == ".pt2":
        return torch.export.load(str(path)).module()
    from convmend.zoo.build import load_torch_module

    return load_torch_module(path)


def save_exported(module: Any, example_shape: tuple[int, ...], out: str | Path) -> dict[str, Any]:
    """Write ``module`` as a ``torch.export`` program (``.pt2``): self-contained, loadable
    without the code that defined it and without unpickling arbitrary objects."""
    import torch

    module = module.eval()
    example = (torch.zeros(*example_shape),)
    program = torch.export.export(module, example)
    torch.export.save(program, str(out))
    return {"saved_as": "torch.export .pt2", "example_shape": list(example_shape)}
