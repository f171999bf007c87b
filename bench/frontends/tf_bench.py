"""TF SavedModel frontend: cost of SavedModel -> IR against a plain native TF run, and
the IR's agreement with TF node by node, per zoo model.

    .venv/bin/python bench/frontends/tf_bench.py [mobilenet_v2 resnet101 inception_v3]
        [--images 20] [--check-images 8] [--no-check]

For each model, in the same process and run: (a) the frontend, ``frontends.tf.load``
(SavedModel load + freeze + walk + IR verify/shape inference); (b) native TF, a fresh
``tf.saved_model.load`` and the serving signature run on ``--images`` images in one batch.
Ratios are frontend / native; (c) as localize and repair run it: the native run, then the
frontend on the model object that run loaded (``convmend.loaded``): the time the frontend
adds. Then, unless ``--no-check``, the IR run is compared with the
frozen TF graph on ``--check-images`` images at every IR value named like a TF tensor, with
the fast and the exact interpreter. Results go to ``bench/results/frontends_tf.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

PRESETS = {"mobilenet_v2": "keras-tf", "resnet101": "keras-caffe", "inception_v3": "inception"}


def _native(path: Path, batch: np.ndarray, shared: bool = False
            ) -> tuple[float, float, np.ndarray]:
    import tensorflow as tf

    from convmend import loaded

    started = time.perf_counter()
    model = loaded.saved_model(path) if shared else tf.saved_model.load(str(path))
    fn = model.signatures["serving_default"]
    loaded = time.perf_counter()
    _, kwargs = fn.structured_input_signature
    out = fn(**{next(iter(kwargs)): tf.constant(batch)})
    result = np.asarray(out[sorted(out)[0]])
    done = time.perf_counter()
    return loaded - started, done - loaded, result


def float64_truth(path: Path, batch: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """The frozen graph with every float32 tensor and constant made float64, run by TF: a
    reference to tell float32 rounding (TF's and the IR's) from mapping errors."""
    import tensorflow as tf

    from convmend.frontends import tf as tf_frontend

    frozen = tf_frontend.frozen_signature(path, "serving_default")
    graph_def = tf.compat.v1.GraphDef()
    graph_def.CopyFrom(frozen.graph_def)
    f32, f64 = tf.float32.as_datatype_enum, tf.float64.as_datatype_enum
    for node in graph_def.node:
        for attr in node.attr.values():
            if attr.type == f32:
                attr.type = f64
            if attr.HasField("list") and f32 in attr.list.type:
                types = [f64 if t == f32 else t for t in attr.list.type]
                del attr.list.type[:]
                attr.list.type.extend(types)
            if attr.HasField("tensor") and attr.tensor.dtype == f32:
                value = tf.make_ndarray(attr.tensor).astype(np.float64)
                attr.tensor.CopyFrom(tf.make_tensor_proto(value))
        for key in ("_output_shapes",):
            node.attr.pop(key, None)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        values = session.run([n if ":" in n else n + ":0" for n in names],
                             {frozen.inputs[0][1] + ":0": batch.astype(np.float64)})
    return dict(zip(names, values, strict=True))


def _float64_diagnosis(path: Path, graph, x: np.ndarray, worst: list[str]) -> dict:
    """For the nodes whose IR-vs-TF error is largest: each side's error against float64."""
    from convmend import _core
    from convmend.frontends import tf as tf_frontend

    truth = float64_truth(path, x, worst)
    native = tf_frontend.native_trace(path, x, worst)
    rows = {}
    for exact in (False, True):
        _, traced = _core.Interpreter(graph, exact=exact).run_traced([x], worst)
        for n in worst:
            scale = float(np.abs(truth[n]).max()) or 1.0
            row = rows.setdefault(n, {})
            row["tf_f32_vs_f64"] = float(np.abs(native[n] - truth[n]).max()) / scale
            row["ir_exact_vs_f64" if exact else "ir_fast_vs_f64"] = (
                float(np.abs(traced[n] - truth[n]).max()) / scale
            )
    return rows


def bench(name: str, images: int, check_images: int, check: bool) -> dict:
    from convmend import _core, loaded, preprocess
    from convmend.frontends import tf as tf_frontend
    from convmend.images import default_images
    from convmend.zoo import build

    path = build.saved_model_from_keras(name)
    spec = preprocess.preset(PRESETS[name])
    pictures = [i.load() for i in default_images(count=max(images, check_images))]
    batch = spec.apply_batch(pictures[:images])

    load_s, run_s, native_out = _native(path, batch)  # also warms TF up for both sides
    gc.collect()
    load_s, run_s, native_out = _native(path, batch)
    loaded.clear()
    started = time.perf_counter()
    graph = tf_frontend.load(path)
    frontend_s = time.perf_counter() - started
    # As localize and repair run it: the native run first, then the frontend on the model
    # object that run loaded (``convmend.loaded``); what the frontend adds to that run.
    loaded.clear()
    gc.collect()
    shared_load_s, shared_run_s, _ = _native(path, batch, shared=True)
    started = time.perf_counter()
    tf_frontend.load(path)
    added_s = time.perf_counter() - started
    loaded.clear()
    started = time.perf_counter()
    ir_out = _core.Interpreter(graph).run([batch])[0]
    ir_run_s = time.perf_counter() - started
    native_s = load_s + run_s
    row = {
        "model": name,
        "saved_model": str(path),
        "images": images,
        "frontend_s": round(frontend_s, 3),
        "native_load_s": round(load_s, 3),
        "native_run_s": round(run_s, 3),
        "native_total_s": round(native_s, 3),
        "frontend_freeze_s": round(tf_frontend.LAST_TIMINGS.get("freeze_s", 0.0), 3),
        "frontend_build_s": round(tf_frontend.LAST_TIMINGS.get("build_s", 0.0), 3),
        "ratio_frontend_to_native_total": round(frontend_s / native_s, 2),
        "ratio_frontend_to_native_load": round(frontend_s / load_s, 2),
        "shared_native_total_s": round(shared_load_s + shared_run_s, 3),
        "frontend_added_after_native_s": round(added_s, 3),
        "ratio_added_to_native_total": round(added_s / (shared_load_s + shared_run_s), 2),
        "ir_run_s": round(ir_run_s, 3),
        "ir_nodes": len(graph.nodes()),
        "ir_vs_signature_output_rel": float(
            np.abs(ir_out - native_out).max() / np.abs(native_out).max()
        ),
        "ir_vs_signature_top1_equal": bool(
            np.array_equal(ir_out.argmax(-1), native_out.argmax(-1))
        ),
    }
    print(f"{name}: frontend {frontend_s:.2f}s, native load {load_s:.2f}s + run({images}) "
          f"{run_s:.2f}s; frontend/native {row['ratio_frontend_to_native_total']:.2f}x "
          f"(/load {row['ratio_frontend_to_native_load']:.2f}x); after a native run that "
          f"loaded it: +{added_s:.2f}s ({row['ratio_added_to_native_total']:.2f}x); of the "
          "frontend: load+freeze "
          f"{row['frontend_freeze_s']:.2f}s, IR build {row['frontend_build_s']:.2f}s; "
          f"IR run {ir_run_s:.2f}s",
          flush=True)
    if check:
        x = spec.apply_batch(pictures[:check_images])
        for exact in (False, True):
            r = tf_frontend.compare_with_tf(path, graph, x, exact=exact)
            key = "exact" if exact else "fast"
            row[key] = {
                "checked_share": r["checked_share"],
                "checked_values": r["checked_values"],
                "output_rel_error": r["output_rel_error"],
                "top1_equal": r["top1_equal"],
                "worst_traced": list(r["worst_traced"]),
                "worst_local": list(r["worst_local"]),
                "traced_over_1e-5": r["traced_over_1e-5"],
                "local_over_1e-5": r["local_over_1e-5"],
            }
            if not exact:
                worst = sorted(r["traced"], key=lambda k: -r["traced"][k])[:3]
                out_name = graph.outputs()[0]["name"]  # a TF node name too
                diagnosis = _float64_diagnosis(path, graph, x, [*worst, out_name])
                row["float64_diagnosis"] = diagnosis
                for n, d in diagnosis.items():
                    print(f"  float64 reference, {n}: " + ", ".join(
                        f"{k} {v:.2e}" for k, v in d.items()), flush=True)
            print(f"  {key}: checked {r['checked_share']:.0%} of {r['ir_nodes']} IR nodes; "
                  f"output rel {r['output_rel_error']:.2e}, top-1 equal {r['top1_equal']}; "
                  f"worst node traced {r['worst_traced'][1]:.2e} "
                  f"({r['traced_over_1e-5']} > 1e-5), local {r['worst_local'][1]:.2e} "
                  f"({r['local_over_1e-5']} > 1e-5)", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["mobilenet_v2"])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--check-images", type=int, default=8)
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "frontends_tf.json"))
    args = parser.parse_args()
    import tensorflow as tf

    rows = [bench(m, args.images, args.check_images, not args.no_check) for m in args.models]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    models = {r["model"]: r for r in previous.get("models", [])}
    for r in rows:  # --no-check keeps the earlier check of the model
        models[r["model"]] = {**models.get(r["model"], {}), **r}
    out.write_text(json.dumps({
        "bench": "frontends/tf",
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "machine": f"{platform.machine()}, shared CPU",
        "models": list(models.values()),
    }, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
