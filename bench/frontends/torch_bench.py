"""PyTorch frontend benchmark: what it costs to bring a zoo model into the IR
(load the state dict, ``torch.export.export``, convert the program) against a plain native
PyTorch run (load + forward on the same images), measured in the same process, one model
after the other; and, as localize and repair run them, what the frontend adds after the
native runner's run that loaded the module (``convmend.loaded`` shares it).
Results: bench/results/frontends_torch.json.

    .venv/bin/python bench/frontends/torch_bench.py [--models mobilenet_v2 resnet101
                                                     inception_v3] [--images 20]

Inputs are prepared (decoded, preprocessed by the model's contract) before any timing, and a
small net is run and exported once first (``warm_up``: Dynamo's and oneDNN's one-time
start-up, reported as ``warm_up_s``, belongs to neither model).
Torch runs with its default intra-op threads; the IR interpreter with one thread (its
default), so the IR run time is for orientation only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def inputs_for(path: Path, count: int) -> list[np.ndarray]:
    from convmend import images
    from convmend.contract import contract_of

    contract = contract_of(path)
    return [contract.batch([item.load()]) for item in images.default_images(count=count)]


def warm_up() -> float:
    """One forward and one ``torch.export`` of a small conv net before any timing: the first
    export in a process initializes Dynamo (about 4 s) and the first forward oneDNN, costs
    that belong to neither model (as the Keras bench imports Keras beforehand)."""
    import torch

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                              torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1)).eval()
    x = torch.zeros(1, 3, 16, 16)
    t0 = time.perf_counter()
    with torch.no_grad():
        net(x)
        torch.export.export(net, (x,))
    return time.perf_counter() - t0


def bench_model(name: str, count: int) -> dict:
    import torch

    from convmend import _core, loaded, runners
    from convmend.frontends import torch as frontend
    from convmend.zoo import build
    from convmend.zoo.tasks import input_size

    path = build.torch_module(name)
    batches = inputs_for(path, count)
    size = input_size(name)

    # native: load + forward on every image
    t0 = time.perf_counter()
    module = build.load_torch_module(path)
    t1 = time.perf_counter()
    native_outputs = []
    with torch.no_grad():
        for x in batches:
            native_outputs.append(module(torch.from_numpy(x)).numpy())
    t2 = time.perf_counter()
    native = {"load_s": t1 - t0, "forward_s": t2 - t1, "total_s": t2 - t0}

    # As localize and repair run it: the native run first through the runner (which loads
    # the module through convmend.loaded), then the frontend on the module that run loaded.
    loaded.clear()
    t0 = time.perf_counter()
    runner = runners.open_runner(path)
    for x in batches:
        runner.run(x)
    t1 = time.perf_counter()
    frontend.load(path)
    t2 = time.perf_counter()
    shared = {"native_s": t1 - t0, "frontend_added_s": t2 - t1}
    del runner
    loaded.clear()

    # frontend alone: load + export + convert
    t0 = time.perf_counter()
    module = build.load_torch_module(path)
    t1 = time.perf_counter()
    with torch.no_grad():
        program = torch.export.export(module, (torch.zeros(1, 3, size, size),))
    t2 = time.perf_counter()
    graph = frontend.from_program(program, name=name)
    t3 = time.perf_counter()
    front = {"load_s": t1 - t0, "export_s": t2 - t1, "convert_s": t3 - t2, "total_s": t3 - t0}

    # the converted graph on the same images (orientation; checks agreement too)
    interp = _core.Interpreter(graph)
    t0 = time.perf_counter()
    ir_outputs = [interp.run([x])[0] for x in batches]
    t1 = time.perf_counter()
    same_top1 = sum(int(np.argmax(a) == np.argmax(b))
                    for a, b in zip(ir_outputs, native_outputs, strict=True))
    worst = max(float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                for a, b in zip(ir_outputs, native_outputs, strict=True))
    nodes = graph.nodes()
    return {
        "model": name,
        "images": count,
        "ir_nodes": len(nodes),
        "native": native,
        "frontend": front,
        "after_native_run": shared,
        "ir_run_s": t1 - t0,
        "ratios": {
            "frontend_total / native_total": front["total_s"] / native["total_s"],
            "added_after_native / native_run": shared["frontend_added_s"] / shared["native_s"],
            "export / native_total": front["export_s"] / native["total_s"],
            "convert / native_total": front["convert_s"] / native["total_s"],
            "convert / export": front["convert_s"] / front["export_s"],
            "ir_run / native_forward": (t1 - t0) / native["forward_s"],
        },
        "same_top1": same_top1,
        "worst_output_relative_error": worst,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+",
                        default=["mobilenet_v2", "resnet101", "inception_v3"])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS / "frontends_torch.json")
    args = parser.parse_args(argv)

    import torch

    warm_s = warm_up()
    rows = []
    for name in args.models:
        row = bench_model(name, args.images)
        rows.append(row)
        n, f = row["native"], row["frontend"]
        print(f"{name}: native load {n['load_s']:.2f}s + {args.images} forwards "
              f"{n['forward_s']:.2f}s = {n['total_s']:.2f}s | frontend load {f['load_s']:.2f}s "
              f"+ export {f['export_s']:.2f}s + convert {f['convert_s']:.2f}s = "
              f"{f['total_s']:.2f}s | ratio {row['ratios']['frontend_total / native_total']:.2f}x"
              f"; after a native run that loaded it: "
              f"+{row['after_native_run']['frontend_added_s']:.2f}s"
              f" ({row['ratios']['added_after_native / native_run']:.2f}x)"
              f" (convert alone {row['ratios']['convert / native_total']:.3f}x) | IR run "
              f"{row['ir_run_s']:.2f}s, top-1 {row['same_top1']}/{args.images}, "
              f"rel err {row['worst_output_relative_error']:.2e}", flush=True)
    result = {
        "benchmark": "frontends.torch: zoo state dict -> torch.export -> IR vs native torch",
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                    "cpus": os.cpu_count(), "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads()},
        "warm_up_s": warm_s,
        "models": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
