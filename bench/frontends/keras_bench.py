"""The Keras frontend on the zoo's Keras models: speed against Keras itself, and agreement.

Speed: in one process (Keras imported once beforehand, so neither side pays for it), the
frontend (``.keras`` file -> verified IR graph) against a plain native run (load_model +
predict on 20 images); also, as localize and repair run it, the native run first and then the
frontend on the model object that run loaded (``convmend.loaded``): the time it adds; and the
IR interpreter on the same 20 images, for scale.

Agreement (``--accuracy``): the IR run against Keras' own run on real images, at the output
and at every layer Keras exposes (``KerasRunner.run_with_intermediates``), as relative error
max|diff| / max|native|. Three views separate our errors from float32 rounding:
``ir32`` the float32 IR against Keras, ``ir64`` the float64 IR (``exact=True``) against
Keras, ``local`` each layer's IR node run alone on Keras' own inputs to that layer.

    .venv/bin/python bench/frontends/keras_bench.py [--models mobilenet_v2,...] [--accuracy]

Writes ``bench/results/frontends_keras.json`` (merging into what is there, by model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "frontends_keras.json"
MODELS = ("mobilenet_v2", "resnet101", "inception_v3")


def _batch(path: Path, count: int) -> np.ndarray:
    from convmend.images import default_images

    images = [item.load() for item in default_images(count=count)]
    try:
        from convmend.contract import contract_of

        return contract_of(path).batch(images)
    except Exception as exc:  # the contract module may be unfinished
        print(f"  contract_of failed ({exc}); using the keras-tf preset", file=sys.stderr)
        from convmend import preprocess

        return preprocess.preset("keras-tf").apply_batch(images)


def rel(native: np.ndarray, ours: np.ndarray) -> float:
    scale = float(np.max(np.abs(native))) if native.size else 0.0
    diff = float(np.max(np.abs(native.astype(np.float64) - ours))) if native.size else 0.0
    return diff / scale if scale > 0 else diff


def speed(name: str, count: int = 20, repeats: int = 1) -> dict:
    import keras

    from convmend import _core, loaded
    from convmend.frontends import keras as frontend
    from convmend.zoo import build

    path = build.keras_model(name)
    batch = _batch(path, count)
    front, native, ir_run, added, shared = [], [], [], [], []
    for _ in range(repeats):
        loaded.clear()
        t0 = time.perf_counter()
        graph = frontend.load(path)
        front.append(time.perf_counter() - t0)
        # As localize and repair run it: the native run first (KerasRunner's shared load),
        # then the frontend on the model object that run loaded.
        loaded.clear()
        t0 = time.perf_counter()
        loaded.keras_model(path).predict(batch, batch_size=count, verbose=0)
        shared.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        frontend.load(path)
        added.append(time.perf_counter() - t0)
        loaded.clear()

        t0 = time.perf_counter()
        model = keras.models.load_model(str(path), compile=False)
        model.predict(batch, batch_size=count, verbose=0)
        native.append(time.perf_counter() - t0)
        del model

        interp = _core.Interpreter(graph, threads=1)
        t0 = time.perf_counter()
        for i in range(count):
            interp.run([batch[i : i + 1]])
        ir_run.append(time.perf_counter() - t0)
    out = {
        "images": count,
        "frontend_s": min(front),
        "native_load_predict_s": min(native),
        "ir_run_s": min(ir_run),
        "nodes": len(graph.nodes()),
    }
    out["shared_native_load_predict_s"] = min(shared)
    out["frontend_added_after_native_s"] = min(added)
    out["added_over_native"] = min(added) / min(shared)
    out["frontend_over_native"] = out["frontend_s"] / out["native_load_predict_s"]
    out["ir_run_over_native"] = out["ir_run_s"] / out["native_load_predict_s"]
    return out


def accuracy(name: str, count: int = 8) -> dict:
    from convmend import _core
    from convmend.frontends import keras as frontend
    from convmend.runners import KerasRunner
    from convmend.zoo import build

    path = build.keras_model(name)
    graph = frontend.load(path)
    batch = _batch(path, count)
    runner = KerasRunner(path)
    native = runner.run_with_intermediates(batch)
    outputs = runner.run(batch)[0]
    nodes = graph.nodes()
    produced = {o: n for n in nodes for o in n["outputs"]}
    consts = {v["name"] for v in graph.values() if v["constant"]}
    names = [k for k in native if k in produced]
    f32 = _core.Interpreter(graph)
    f64 = _core.Interpreter(graph, exact=True)
    worst: dict[str, dict[str, float]] = {}
    top1 = 0
    out_name = graph.outputs()[0]["name"]
    for i in range(batch.shape[0]):
        x = batch[i : i + 1]
        o32, t32 = f32.run_traced([x], names)
        _, t64 = f64.run_traced([x], names)
        top1 += int(np.argmax(o32[0]) == np.argmax(outputs[i]))
        for k in names:
            nat = native[k][i : i + 1]
            row = worst.setdefault(k, {"ir32": 0.0, "ir64": 0.0, "ir32_vs_ir64": 0.0})
            row["ir32"] = max(row["ir32"], rel(nat, t32[k]))
            row["ir64"] = max(row["ir64"], rel(nat, t64[k]))
            row["ir32_vs_ir64"] = max(row["ir32_vs_ir64"], rel(t64[k], t32[k]))
            node = produced[k]
            feeds = [v for v in node["inputs"] if v and v not in consts]
            if all(v in native for v in feeds):
                given = {v: native[v][i : i + 1] for v in feeds}
                local = f32.run_node(k, given)[0]
                row["local"] = max(row.get("local", 0.0), rel(nat, local))
    over = {k: v for k, v in worst.items() if v["ir32"] > 1e-5}

    def top(key: str) -> list:
        ranked = sorted(((v.get(key, 0.0), k) for k, v in worst.items()), reverse=True)
        return [[k, e] for e, k in ranked[:5]]

    checked = sum(1 for n in nodes if any(o in native for o in n["outputs"]))
    return {
        "images": int(batch.shape[0]),
        "top1_agree": f"{top1}/{batch.shape[0]}",
        "output": worst.get(out_name),
        "worst_ir32": top("ir32"),
        "worst_ir64": top("ir64"),
        "worst_ir32_vs_ir64": top("ir32_vs_ir64"),
        "worst_local": top("local"),
        "layers_over_1e-5": len(over),
        "layers_over_1e-5_where_ir32_vs_ir64_is_smaller": sum(
            1 for v in over.values() if v["ir32_vs_ir64"] < v["ir32"]),
        "layers_over_1e-5_locally": sum(1 for v in worst.values() if v.get("local", 0) > 1e-5),
        "ir_nodes": len(nodes),
        "ir_nodes_with_native_counterpart": checked,
        "share_checked": checked / len(nodes),
        "native_layers": len(native),
        "native_layers_compared": len(names),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--accuracy", action="store_true", help="also check agreement")
    parser.add_argument("--accuracy-images", type=int, default=8)
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras  # noqa: F401  (imported once, outside every timing)

    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in args.models.split(","):
        entry = results.setdefault(name, {})
        if not args.no_speed:
            entry["speed"] = speed(name, args.images, args.repeats)
            s = entry["speed"]
            print(f"{name}: frontend {s['frontend_s']:.2f}s, native load+predict "
                  f"({s['images']} images) {s['native_load_predict_s']:.2f}s, ratio "
                  f"{s['frontend_over_native']:.2f}; after a native run that loaded it: +"
                  f"{s['frontend_added_after_native_s']:.2f}s (ratio "
                  f"{s['added_over_native']:.2f}); IR run {s['ir_run_s']:.2f}s "
                  f"(ratio {s['ir_run_over_native']:.2f})", flush=True)
        if args.accuracy:
            entry["accuracy"] = accuracy(name, args.accuracy_images)
            print(json.dumps({name: entry["accuracy"]}, indent=1), flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
