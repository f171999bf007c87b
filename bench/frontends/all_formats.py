"""Issue 4's check over every model file there is: each zoo model in every format it exists
in, and every model the conversion matrix wrote, run in the IR and natively, compared at
the output and at every intermediate the native runtime exposes (matched by the name the
frontend gives each node: Keras layer, PyTorch module path, TF node, ONNX/TFLite tensor).

    .venv/bin/python bench/frontends/all_formats.py [--images 8] [--models ...] [--matrix]
        [--cells bench/results/matrix.json] [--no-zoo] [--resume]

--matrix takes the converted models in this machine's conversion cache; --cells takes every
cell of a matrix document whose model loaded, converting it again here when its output is not
on this machine; --resume keeps the rows of an earlier run of the same --out.

Writes bench/results/frontends_all.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from convmend import images
from convmend.contract import contract_of
from convmend.convert.check import model_format
from convmend.errors import ConvmendError
from convmend.exactness import compare_with_native
from convmend.fileio import write_bytes_atomically, write_json
from convmend.zoo import build

RESULTS = Path(__file__).resolve().parents[1] / "results"


def zoo_files(models: list[str]) -> list[tuple[str, Path]]:
    found = []
    for name in models:
        for framework, path in build.source_models(name).items():
            found.append((f"{name} zoo {framework}", path))
        found.append((f"{name} zoo onnx (torch.onnx)", build.onnx_from_torch(name)))
        found.append((f"{name} zoo onnx (tf2onnx)", build.onnx_from_keras(name)))
    return found


def matrix_files(models: list[str]) -> list[tuple[str, Path]]:
    """Every model the conversion cache holds that loaded in its runtime and descends from a
    zoo model of ``models`` (a conversion folder is named by its source's hash; a chain's
    second step reads the first step's output)."""
    from convmend.fileio import sha256_of

    root = build.cache_dir() / "conversions"
    outputs = []
    for record in sorted(root.glob("*/*.outcome.json")):
        result = json.loads(record.read_text()).get("result", {})
        if result.get("status") == "ok" and result.get("output"):
            out = Path(result["output"])
            if out.exists():
                outputs.append((record.parent.name, result["converter"], out))
    model_of = {sha256_of(path)[:16]: name for name in models
                for path in build.source_models(name).values()}
    found: dict[Path, tuple[str, Path]] = {}
    grew = True
    while grew:  # a chain's outputs become known once its first step's output is
        grew = False
        for folder, converter, out in outputs:
            if folder in model_of and out not in found:
                found[out] = (f"{model_of[folder]} converted by {converter} ({folder})", out)
                model_of[sha256_of(out)[:16]] = model_of[folder]
                grew = True
    return sorted(found.values())


LOADED = ("faithful", "disagrees", "declared_lossy", "input_relayout")


def cell_files(document: Path, models: list[str]) -> list[tuple[str, Any]]:
    """Every cell of a matrix document whose converted model loaded, as (label, a callable
    giving its path on this machine)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchdoc import converted_model

    found = []
    for cell in json.loads(document.read_text())["cells"]:
        if cell["model"] in models and cell["outcome"] in LOADED:
            label = f"{cell['model']} {cell['source']}->{cell['target']} by {cell['chain']}"
            found.append((label, lambda cell=cell: Path(converted_model(cell))))
    return found


def check(label: str, path: Path, count: int) -> dict:
    start = time.monotonic()
    contract = contract_of(path)
    inputs = [(item.name, contract.batch([item.load()]))
              for item in images.default_images(count=count)]
    row = {"model": label, "path": str(path), "format": model_format(path)}
    try:
        report = compare_with_native(path, inputs, arbitrate=True)
    except ConvmendError as exc:
        row.update(status="refused", error=str(exc))
        return row
    except Exception as exc:  # a runtime's own failure is a finding of this bench
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}".splitlines()[0])
        return row
    data = report.to_dict()
    data.pop("model", None)  # the path; the row keeps its label and path
    row.update(status="ok", seconds=round(time.monotonic() - start, 1), **data)
    return row


TITLE = "# IR run against the native runtime, every format"


def kept_preamble(md: Path) -> str:
    """What an earlier Markdown report holds between its title and its command line: a note
    written by hand, which a resumed run keeps."""
    if not md.is_file():
        return ""
    text = md.read_text()
    start = text.find(TITLE)
    end = text.find("Command: `")
    if start < 0 or end < 0:
        return ""
    return text[start + len(TITLE):end].strip("\n")


def to_markdown(rows: list[dict], command: str, preamble: str = "") -> str:
    out = [TITLE, ""] + ([preamble, ""] if preamble else []) + [f"Command: `{command}`", "",
           "| model | format | same top-1 | output rel. err | worst layer (whole run) | "
           "worst node alone | IR values with a native counterpart |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] != "ok":
            out.append(f"| {r['model']} | {r['format']} | {r['status']}: "
                       f"{r.get('error', '')[:120]} | | | | |")
            continue
        worst = r.get("worst_intermediate") or {}
        alone = r.get("worst_isolated") or {}
        out.append(
            f"| {r['model']} | {r['format']} | {r['same_top1']}/{r['images']} | "
            f"{r['output_relative_error']:.1e} | "
            f"{worst.get('relative_error', 0):.1e} (ours/native vs f64: "
            f"{worst.get('ours_vs_exact') or 0:.1e}/{worst.get('native_vs_exact') or 0:.1e}) | "
            f"{alone.get('relative_error', 0):.1e} | "
            f"{r['intermediates_compared']}/{r['ir_values']} ({r['coverage']:.0%}) |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--models", nargs="+", default=list(build.MODEL_NAMES))
    parser.add_argument("--matrix", action="store_true", help="also every converted model")
    parser.add_argument("--cells", type=Path,
                        help="every loaded cell of this matrix document (converted again here "
                             "when its output is not on this machine)")
    parser.add_argument("--no-zoo", action="store_true", help="only the converted models")
    parser.add_argument("--resume", action="store_true",
                        help="keep the rows of an earlier run with the same --out")
    parser.add_argument("--redo", nargs="+", default=[], metavar="TEXT",
                        help="with --resume, run again the models whose label holds TEXT")
    parser.add_argument("--out", default=str(RESULTS / "frontends_all"))
    args = parser.parse_args(argv)
    files: list[tuple[str, Any]] = (([] if args.no_zoo else zoo_files(args.models))
                                    + (matrix_files(args.models) if args.matrix else [])
                                    + (cell_files(args.cells, args.models) if args.cells
                                       else []))
    command = "python bench/frontends/all_formats.py " + " ".join(sys.argv[1:])
    out = Path(args.out)
    out.parent.mkdir(exist_ok=True)
    rows = []
    preamble = kept_preamble(Path(str(out) + ".md")) if args.resume else ""
    if args.resume and Path(str(out) + ".json").exists():
        planned = {label for label, _ in files}
        rows = [r for r in json.loads(Path(str(out) + ".json").read_text())["rows"]
                if r["status"] in ("ok", "refused") and r["model"] in planned
                and not any(text in r["model"] for text in args.redo)]
    done = {r["model"] for r in rows}
    for label, path in files:
        if label in done:
            continue
        try:
            path = path() if callable(path) else path
        except ConvmendError as exc:  # the cell's chain did not convert again here
            row = {"model": label, "path": "", "format": "", "status": "not_converted",
                   "error": str(exc)}
        else:
            row = check(label, path, args.images)
        rows.append(row)
        print(f"{label}: {row['status']} " + (
            f"top-1 {row['same_top1']}/{row['images']} out {row['output_relative_error']:.1e} "
            f"coverage {row['coverage']:.0%}" if row["status"] == "ok" else row.get("error", "")),
            flush=True)
        # Written after every model: a long run that is stopped keeps what it measured.
        write_json(Path(str(out) + ".json"), {"command": command, "rows": rows,
                                              "planned": len(files)})
        write_bytes_atomically(Path(str(out) + ".md"),
                               to_markdown(rows, command, preamble).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
