"""Issue 4's check over every model file there is: each zoo model in every format it exists
in, and every model the conversion matrix wrote, run in the IR and natively, compared at
the output and at every intermediate the native runtime exposes (matched by the name the
frontend gives each node: Keras layer, PyTorch module path, TF node, ONNX/TFLite tensor).

    .venv/bin/python bench/frontends/all_formats.py [--images 8] [--models ...] [--matrix]

Writes bench/results/frontends_all.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

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


def matrix_files() -> list[tuple[str, Path]]:
    """Every model the conversion cache holds that loaded in its runtime."""
    root = build.cache_dir() / "conversions"
    found = []
    for record in sorted(root.glob("*/*.outcome.json")):
        result = json.loads(record.read_text()).get("result", {})
        if result.get("status") == "ok" and result.get("output"):
            out = Path(result["output"])
            if out.exists():
                found.append((f"converted by {result['converter']} ({record.parent.name})", out))
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


def to_markdown(rows: list[dict], command: str) -> str:
    out = ["# IR run against the native runtime, every format", "", f"Command: `{command}`", "",
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
    args = parser.parse_args(argv)
    files = zoo_files(args.models) + (matrix_files() if args.matrix else [])
    rows = []
    for label, path in files:
        row = check(label, path, args.images)
        rows.append(row)
        print(f"{label}: {row['status']} " + (
            f"top-1 {row['same_top1']}/{row['images']} out {row['output_relative_error']:.1e} "
            f"coverage {row['coverage']:.0%}" if row["status"] == "ok" else row.get("error", "")),
            flush=True)
    command = "python bench/frontends/all_formats.py " + " ".join(sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    write_json(RESULTS / "frontends_all.json", {"command": command, "rows": rows})
    write_bytes_atomically(RESULTS / "frontends_all.md", to_markdown(rows, command).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
