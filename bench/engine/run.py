"""Engine benchmark: convmend's interpreter against ONNX Runtime and LiteRT on the same
model files, images and thread counts, each measurement in a fresh process so that peak
memory is its own. Results: bench/results/engine.{json,md}.

    .venv/bin/python bench/engine/run.py [--models mobilenet_v2 resnet101 inception_v3]
                                         [--images 20] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
# (label, how the zoo builds it, peer runtime)
VARIANTS = [
    ("onnx (torch.onnx.export)", "onnx", "onnxruntime"),
    ("tflite (TFLiteConverter from Keras)", "tflite", "litert"),
]


def model_path(name: str, kind: str) -> Path:
    from convmend.zoo import build

    if kind == "onnx":
        return build.onnx_from_torch(name)
    return build.tflite_from_keras(name, mode="float32")


def inputs_for(path: str, count: int) -> list[np.ndarray]:
    """Real photos, each a batch of one, preprocessed by the model's input contract."""
    from convmend import images
    from convmend.contract import contract_of

    contract = contract_of(path)
    return [contract.batch([item.load()]) for item in images.default_images(count=count)]


def child(engine: str, path: str, threads: int, count: int, mode: str) -> dict:
    """One measurement in this process: images per second and peak memory."""
    from convmend import engine as cm
    from convmend import runners

    if engine == "convmend":
        graph = cm.load(path)
        interp = cm.Interpreter(graph, threads=threads)
        if mode == "observe":
            def run(x):
                return interp.run_stats([x])
        else:
            def run(x):
                return interp.run([x])
    else:
        runner = runners.open_runner(path, num_threads=threads)

        def run(x):
            return runner.run(x)
    batch = inputs_for(path, count)
    run(batch[0])  # warm-up: first-run allocations and weight packing
    start = time.perf_counter()
    for x in batch:
        run(x)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"images_per_second": len(batch) / seconds, "seconds": seconds,
            "peak_rss_mb": peak_kb / 1024.0}


def measure(engine: str, path: Path, threads: int, count: int, mode: str = "plain") -> dict:
    cmd = [sys.executable, __file__, "--child", engine, str(path), str(threads), str(count), mode]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, env=env)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+",
                        default=["mobilenet_v2", "resnet101", "inception_v3"])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, path, threads, count, mode = args.child
        print(json.dumps(child(engine, path, int(threads), int(count), mode)))
        return 0

    rows = []
    for name in args.models:
        for label, kind, peer in VARIANTS:
            path = model_path(name, kind)
            for threads in args.threads:
                ours = measure("convmend", path, threads, args.images)
                theirs = measure(peer, path, threads, args.images)
                row = {"model": name, "format": label, "threads": threads, "peer": peer,
                       "convmend": ours, peer: theirs}
                if "error" not in ours and "error" not in theirs:
                    row["slowdown_vs_peer"] = (theirs["images_per_second"]
                                               / ours["images_per_second"])
                if threads == 1:
                    observed = measure("convmend", path, threads, args.images, "observe")
                    row["observe_every_node"] = observed
                    if "error" not in observed and "error" not in ours:
                        row["observe_cost"] = (ours["images_per_second"]
                                               / observed["images_per_second"])
                rows.append(row)
                print(json.dumps(row), flush=True)

    document = {"command": "bench/engine/run.py " + " ".join(sys.argv[1:]),
                "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
                "images": args.images, "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "engine.json").write_text(json.dumps(document, indent=2) + "\n")
    lines = ["# Engine benchmark", "", f"Command: `{document['command']}`, "
             f"{args.images} images, {os.cpu_count()} cores.", "",
             "| model | file | threads | convmend img/s | peer | peer img/s | slowdown | "
             "observe-all cost | convmend peak MB | peer peak MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ours, theirs = r["convmend"], r[r["peer"]]
        fmt = lambda d, k: f"{d[k]:.1f}" if k in d else d.get("error", "?")[:40]  # noqa: E731
        lines.append(
            f"| {r['model']} | {r['format']} | {r['threads']} | {fmt(ours, 'images_per_second')}"
            f" | {r['peer']} | {fmt(theirs, 'images_per_second')} | "
            f"{r.get('slowdown_vs_peer', float('nan')):.2f}x | "
            f"{r.get('observe_cost', float('nan')):.2f}x | {fmt(ours, 'peak_rss_mb')} | "
            f"{fmt(theirs, 'peak_rss_mb')} |")
    (RESULTS / "engine.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
