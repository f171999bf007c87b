"""Repair time against the native runtimes, same machine, same run.

The case of issue 6: InceptionV3 as a TensorFlow SavedModel (exported from the seeded Keras
model) and its TFLite conversion with a planted fault (from the planted corpus, whose TFLite
files are TFLiteConverter float32 conversions of the same Keras model: the same numbers as
from the SavedModel). The peer is running both models once in their own runtimes (TensorFlow,
LiteRT) on the same images; the ratio is `convmend repair` (everything: loading, IR work,
writing, and the native verification of source, target and repaired file) over that.
The source's cached native outputs are deleted first, so the repair runs it itself.

    .venv/bin/python bench/repair/speed.py [--model inception_v3] [--images 200]
        [--fault param.value__late__gross]

Results: bench/results/repair_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="inception_v3")
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--fault", default="param.value__late__gross")
    ap.add_argument("--out", default=str(RESULTS / "repair_speed"))
    args = ap.parse_args(argv)

    from convmend import images
    from convmend.diff import run_side
    from convmend.repair import repair, summary_lines
    from convmend.zoo.build import cache_dir

    root = cache_dir()
    source = root / args.model / "keras-saved_model"
    target = root / "planted" / args.model / "tflite-keras" / f"{args.fault}.tflite"
    for p in (source, target):
        if not p.exists():
            print(f"missing {p}: run `convmend zoo build` and python -m convmend.faults.plant",
                  file=sys.stderr)
            return 2
    image_set = images.default_images(args.images)

    start = time.perf_counter()
    native_source = run_side(source, image_set, label="source")
    native_target = run_side(target, image_set, label="target")
    native_seconds = time.perf_counter() - start

    shutil.rmtree(root / "outputs", ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="convmend-repair-speed-") as tmp:
        out = Path(tmp) / "repaired.tflite"
        start = time.perf_counter()
        report = repair(source, target, out, images=image_set)
        repair_seconds = time.perf_counter() - start
    for line in summary_lines(report):
        print(line)
    ratio = repair_seconds / native_seconds
    doc = {
        "command": "python bench/repair/speed.py " + " ".join(argv or sys.argv[1:]),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "model": args.model, "fault": args.fault, "images": len(image_set),
        "variants": image_set.num_variants,
        "native_seconds": {"source (TensorFlow)": round(native_source.seconds, 2),
                           "target (LiteRT)": round(native_target.seconds, 2),
                           "both, including loading": round(native_seconds, 2)},
        "repair_seconds": round(repair_seconds, 2),
        "ratio": round(ratio, 2),
        "bar": 5.0,
        "status": report["status"],
        "native_after": (report.get("native") or {}).get("repaired"),
        "kept": [s["code"] for s in report["steps"] if s.get("kept")],
        "timings": report.get("timings"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(str(out) + ".json").write_text(json.dumps(doc, indent=1) + "\n")
    Path(str(out) + ".md").write_text(
        "# Repair speed\n\n"
        f"Command: `{doc['command']}` on {doc['machine']}.\n\n"
        f"{args.model}, TF SavedModel source, TFLite target with planted `{args.fault}`, "
        f"{doc['images']} images ({doc['variants']} deterministic variants).\n\n"
        "| what | seconds |\n|---|---|\n"
        + "".join(f"| native {k} | {v} |\n" for k, v in doc["native_seconds"].items())
        + f"| `convmend repair` (all of it) | {doc['repair_seconds']} |\n\n"
        f"Ratio: **{doc['ratio']}x** the native runs (bar: 5x). Status: {doc['status']}; "
        f"kept: {', '.join(doc['kept'])}; repaired file natively: {doc['native_after']}.\n\n"
        "Where the repair's time went:\n\n| phase | seconds |\n|---|---|\n"
        + "".join(f"| {k} | {v} |\n" for k, v in (doc["timings"] or {}).items()))
    print(f"repair {repair_seconds:.1f} s, native {native_seconds:.1f} s: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
