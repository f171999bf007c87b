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
from collections import defaultdict
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


def converted_model(cell: dict[str, Any], memory_gb: float = 16.0) -> str:
    """The converted model of a matrix cell on this machine: the recorded output when it is
    here, else the cell's chain run again on the zoo source (conversions are cached, so this
    costs a conversion once per machine). Raises ConvmendError when it cannot be had."""
    from convmend.convert import execute, registry
    from convmend.errors import ConvmendError

    if cell.get("output") and Path(cell["output"]).exists():
        return str(cell["output"])
    source = Path(cell["source_path"])
    if not source.exists():
        from convmend.zoo import build

        source = build.source_models(cell["model"])[cell["source"]]
    chain = registry.parse_chain(cell["chain"])
    probe = execute.probe_model(source, memory_gb=memory_gb)
    result = execute.convert_chain(chain, source, probe, execute.DEFAULT_TIMEOUT, memory_gb)
    if result.status != execute.OK or not result.output:
        raise ConvmendError(f"converting {cell['chain']} again on this machine: {result.status}")
    return str(result.output)


def cell_key(row: dict[str, Any]) -> tuple[str, ...]:
    """A matrix cell (or a bench row about one): its model, source, target and chain."""
    return tuple(row[k] for k in ("model", "source", "target", "chain"))


def planted_key(row: dict[str, Any]) -> tuple[str, ...]:
    """A planted-corpus case (or a bench row about one) as ``model/kind/file`` of its target:
    the same case in a corpus planted into another folder (another machine's cache) has the
    same key."""
    return Path(row["target"]).parts[-3:]


def interleaved(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Planted cases with the first fault of every (target kind, code) first, then every
    second one, and so on: a run stopped early has measured every kind and code."""
    rank: dict[tuple[str, str], int] = defaultdict(int)
    keyed = []
    for i, e in enumerate(entries):
        group = (e["target_kind"], e["code"])
        keyed.append((rank[group], i, e))
        rank[group] += 1
    return [e for _, _, e in sorted(keyed, key=lambda t: (t[0], t[1]))]
