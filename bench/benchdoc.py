"""What every bench run document starts with, and how it is written.

A bench under bench/<area>/ imports this file by path (bench/ is not a package):

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchdoc import run_header, write_results
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]  # the repository


def run_header(script: str, argv: Sequence[str] | None, start: float, images: int,
               matrix: str | Path | None = None) -> dict[str, Any]:
    """The command that made the run, the machine, the seconds since ``start`` and the number
    of images; the matrix it read, relative to the repository when it lies inside."""
    doc: dict[str, Any] = {
        "command": f"python {script} " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "seconds": round(time.perf_counter() - start, 1),
        "images": images,
    }
    if matrix is not None:
        path = Path(matrix).resolve()
        doc["matrix"] = str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else matrix)
    return doc


def write_results(out: str | Path, doc: dict[str, Any],
                  markdown: Callable[[dict[str, Any]], str]) -> None:
    """``out``.json and ``out``.md (the document and its Markdown rendering)."""
    out = Path(out)
    Path(f"{out}.json").write_text(json.dumps(doc, indent=1) + "\n")
    Path(f"{out}.md").write_text(markdown(doc))
    print(f"written {out}.json/.md")
