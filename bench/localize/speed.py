"""Localization time and peak memory against the native runtimes, same machine, same run.

The peer is `convmend diff SRC DST --count N`: both models run once in their own runtimes
(PyTorch, TensorFlow, LiteRT, ONNX Runtime) on the same N images, loading included, in a
fresh process. The measured command is `convmend localize SRC DST --count N --json OUT` in a
fresh process too. Both are timed by wall clock; peak memory is the child's maximum resident
set size (`wait4`), which is what the 4 GB bar of issue 5 is about.

Cases (issue 5): MobileNetV2 (pretrained, PyTorch -> torch.onnx.export, with a planted
`param.value`) and InceptionV3 (Keras SavedModel -> TFLite, planted `param.value`) for time;
ResNet101 (PyTorch -> torch.onnx.export, clean) for memory.

    .venv/bin/python bench/localize/speed.py [--images 100] [--cases mobilenet_v2 ...]

Results: bench/results/localize_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
CLI = [sys.executable, "-m", "convmend.cli"]


def cases(root: Path) -> dict[str, tuple[Path, Path, str]]:
    planted = root / "planted"
    return {
        "mobilenet_v2": (root / "mobilenet_v2" / "torch.pth",
                         planted / "mobilenet_v2" / "onnx-torch"
                         / "param.value__middle__moderate.onnx",
                         "PyTorch -> ONNX (torch.onnx.export), planted param.value"),
        "inception_v3": (root / "inception_v3" / "keras-saved_model",
                         planted / "inception_v3" / "tflite-keras"
                         / "param.value__late__gross.tflite",
                         "TF SavedModel -> TFLite (TFLiteConverter), planted param.value"),
        "resnet101": (root / "resnet101" / "torch.pth",
                      root / "resnet101" / "torch-torchscript-opset17.onnx",
                      "PyTorch -> ONNX (torch.onnx.export), clean"),
    }


def timed(args: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS in GiB, exit code and the last stderr line of one command."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    return seconds, usage.ru_maxrss / 2**20, proc.returncode, (lines[-1] if lines else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--cases", nargs="+", default=["mobilenet_v2", "inception_v3", "resnet101"])
    ap.add_argument("--out", default=str(RESULTS / "localize_speed"))
    args = ap.parse_args(argv)

    from convmend.zoo.build import cache_dir

    table = cases(cache_dir())
    rows = []
    for name in args.cases:
        source, target, what = table[name]
        if not (source.exists() and target.exists()):
            print(f"missing {source} or {target}: run `convmend zoo build` and "
                  "`python -m convmend.faults.plant`", file=sys.stderr)
            return 2
        count = ["--count", str(args.images)]
        native = timed([*CLI, "diff", str(source), str(target), *count, "--quiet"])
        with tempfile.TemporaryDirectory(prefix="convmend-localize-speed-") as tmp:
            report = Path(tmp) / "report.json"
            loc = timed([*CLI, "localize", str(source), str(target), *count,
                         "--json", str(report)])
            top = None
            if report.is_file():
                findings = json.loads(report.read_text())["findings"]
                top = findings[0]["code"] if findings else "none"
        row: dict[str, Any] = {
            "model": name, "case": what, "source": str(source), "target": str(target),
            "native_seconds": round(native[0], 1), "native_peak_gib": round(native[1], 2),
            "localize_seconds": round(loc[0], 1), "localize_peak_gib": round(loc[1], 2),
            "ratio": round(loc[0] / native[0], 2), "top_finding": top,
            "exit": {"diff": native[2], "localize": loc[2]},
        }
        if loc[2] not in (0, 1):
            row["error"] = loc[3]
        rows.append(row)
        print(f"{name}: localize {loc[0]:.1f} s ({loc[1]:.2f} GiB), native {native[0]:.1f} s "
              f"({native[1]:.2f} GiB): {loc[0] / native[0]:.2f}x; top finding {top}",
              flush=True)
    doc = {"command": "python bench/localize/speed.py " + " ".join(argv or sys.argv[1:]),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                      f"{platform.python_version()}",
           "images": args.images, "bars": {"time_ratio": 3.0, "peak_gib": 4.0}, "rows": rows}
    out = Path(args.out)
    Path(str(out) + ".json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = ["# Localization speed and memory", "",
             f"Command: `{doc['command']}` on {doc['machine']}; {args.images} images. Native = "
             "`convmend diff` (both models once in their own runtimes, loading included, fresh "
             "process); localize = `convmend localize --json` (fresh process). Bars (issue 5): "
             "time at most 3x native; peak memory at most 4 GB for ResNet101.", "",
             "| model | case | native s (peak GiB) | localize s (peak GiB) | ratio | top finding |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['case']} | {r['native_seconds']} "
                     f"({r['native_peak_gib']}) | {r['localize_seconds']} "
                     f"({r['localize_peak_gib']}) | **{r['ratio']}x** | {r['top_finding']} |")
    Path(str(out) + ".md").write_text("\n".join(lines) + "\n")
    print(f"written {out}.json/.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
