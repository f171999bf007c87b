"""Writing results safely: every output file is written atomically and never over an input."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from convmend.errors import ConvmendError


def check_output_path(output: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse an output that is one of the inputs or sits in a missing/unwritable folder."""
    out = Path(output)
    for item in inputs:
        p = Path(item)
        if p.exists() and out.exists() and os.path.samefile(out, p):
            raise ConvmendError(f"output {out} is also an input; choose another path")
        if out.resolve() == p.resolve():
            raise ConvmendError(f"output {out} is also an input; choose another path")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise ConvmendError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise ConvmendError(f"output folder is not writable: {folder}")
    return out


def write_bytes_atomically(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename it into place."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_atomically(path: str | Path, save: Callable[[str], None]) -> None:
    """Let ``save`` write a temporary file beside ``path`` (same extension, which writers
    that choose the format by it need), then rename it into place; nothing is left on error."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix,
                               dir=target.parent or ".")
    os.close(fd)
    try:
        save(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_folder_atomically(out: str | Path, save: Callable[[str], None]) -> None:
    """Let ``save`` write a folder (a SavedModel) under a temporary name beside ``out``, then
    rename it into place; nothing is left behind on failure and an existing folder is never
    merged into."""
    out = Path(out)
    if out.exists():
        raise ConvmendError(f"output folder {out} already exists; remove it or choose another "
                            "path")
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        save(str(tmp))
        os.replace(tmp, out)
    finally:
        remove_model(tmp)


def copy_model_atomically(src: str | Path, out: str | Path) -> None:
    """Copy a model file or SavedModel folder to ``out`` under a temporary name, then rename;
    nothing is left behind on failure and an existing folder is never merged into."""
    src, out = Path(src), Path(out)
    if src.is_dir():
        save_folder_atomically(out, lambda tmp: shutil.copytree(src, tmp))
        return
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, out)
    finally:
        remove_model(tmp)


def remove_model(path: str | Path) -> None:
    """Remove a model file or SavedModel folder if it is there."""
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_json(path: str | Path, document: Any) -> None:
    text = json.dumps(document, indent=2, sort_keys=False, default=_json_default)
    write_bytes_atomically(path, (text + "\n").encode("utf-8"))


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def sha256_of(path: str | Path) -> str:
    """Hash a file, or a directory (a SavedModel) as its sorted relative paths and bytes."""
    import hashlib

    root = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    for file in files:
        if root.is_dir():
            digest.update(str(file.relative_to(root)).encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
