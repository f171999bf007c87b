"""Framework model objects loaded once per process, shared by the native runners and the
frontends.

Localize, repair and diff run a Keras, SavedModel or PyTorch source in its own runtime and also
read it into the IR. Loading is most of what either costs (Keras' ``load_model`` is 90% of the Keras
frontend on MobileNetV2), so the second one takes the object the first loaded. An entry is
keyed by the resolved path, the file's size and modification time (a SavedModel folder: its
``saved_model.pb``'s and its variables index's) and the load options, so a file rewritten in
between is loaded again. At most ``KEEP`` objects are held, the least recently used dropped.

Readers only: a caller that changes a model (``writeback`` assigns repaired weights) loads its
own copy.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

KEEP = 2
_CACHE: OrderedDict[tuple, Any] = OrderedDict()
_LOCK = threading.Lock()


def _stamp(path: Path) -> tuple:
    files = ([path / "saved_model.pb", path / "variables" / "variables.index"]
             if path.is_dir() else [path])
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)


def _shared(kind: str, path: str | Path, options: tuple, load: Callable[[], Any]) -> Any:
    path = Path(path).resolve()
    key = (kind, str(path), _stamp(path), options)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = load()  # errors propagate, nothing is kept
    with _LOCK:
        _CACHE[key] = value
        while len(_CACHE) > KEEP:
            _CACHE.popitem(last=False)
    return value


def keras_model(path: str | Path, safe_mode: bool = True) -> Any:
    """``keras.models.load_model(path, compile=False, safe_mode=safe_mode)``, shared."""
    import keras

    return _shared("keras", path, (safe_mode,), lambda: keras.models.load_model(
        str(path), compile=False, safe_mode=safe_mode))


def saved_model(path: str | Path) -> Any:
    """``tf.saved_model.load(path)``, shared."""
    import tensorflow as tf

    return _shared("saved_model", path, (), lambda: tf.saved_model.load(str(path)))


def torch_module(path: str | Path) -> Any:
    """A zoo state dict (``.pth`` with its sidecar) as an eval-mode module, shared. The runner
    hooks it only for a run and removes the hooks; ``torch.export`` leaves it as it was."""
    from convmend.zoo.build import load_torch_module

    return _shared("torch", path, (), lambda: load_torch_module(path))


def torch_program(path: str | Path) -> Any:
    """``torch.export.load(path)`` (a ``.pt2`` program), shared."""
    import torch

    return _shared("torch_program", path, (), lambda: torch.export.load(str(path)))


def clear() -> None:
    """Drop every shared object (benchmarks that time a cold load)."""
    with _LOCK:
        _CACHE.clear()
