"""The `convmend` command line. Every failure the user can cause ends in one line on stderr
and a non-zero exit; a traceback means a bug in convmend."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from convmend import __version__
from convmend.errors import ConvmendError

EXIT_ERROR = 2


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="convmend",
        description="Find and fix what a deep-learning model converter broke.",
    )
    parser.add_argument("--version", action="version", version=f"convmend {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect",
                       help="ops, layouts, parameters, dtypes and quantization of a model")
    p.add_argument("model", help=".onnx or .tflite file")
    p.add_argument("--json", metavar="OUT", help="also write the summary as JSON")
    p.add_argument("--text", action="store_true", help="print the whole IR in text form")

    p = sub.add_parser("run", help="run a model in convmend's interpreter on images")
    p.add_argument("model", help=".onnx or .tflite file")
    p.add_argument("--images", metavar="DIR", help="image folder (default: the packaged images)")
    p.add_argument("--count", type=int, help="number of images (variants fill up when needed)")
    p.add_argument("--preprocess", metavar="SPEC",
                   help="preset name and/or key=value list, e.g. 'torchvision' or "
                        "'size=224,scale=1/127.5,mean=1,layout=nhwc' (default: by input layout)")
    p.add_argument("--trace", metavar="NODES",
                   help="comma-separated node or value names, or 'all': record their outputs")
    p.add_argument("--native", action="store_true",
                   help="also run the model in its own runtime and compare, tensor by tensor")
    p.add_argument("--exact", action="store_true", help="compute in float64")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", metavar="OUT", help="write per-image results as JSON")

    sub.add_parser("demo", help="the engine on the default models and images (no download)")
    return parser.parse_args(argv)


def _default_spec(input_shape: list[int]) -> Any:
    from convmend import preprocess

    layout = "nchw" if len(input_shape) == 4 and input_shape[1] == 3 else "nhwc"
    spec = preprocess.preset("torchvision" if layout == "nchw" else "keras-tf")
    return spec, layout


def _spec_for(model_input: dict[str, Any], text: str | None) -> Any:
    from convmend import preprocess

    shape = list(model_input["shape"])
    if len(shape) != 4:
        raise ConvmendError(f"input '{model_input['name']}' has shape {shape}; `run` feeds "
                            "images and needs a 4-D input")
    spec, layout = _default_spec(shape)
    explicit_size = False
    if text:
        spec = preprocess.parse_spec(text)
        explicit_size = any(t.strip().lower().startswith("size=") for t in text.split(","))
    size = shape[2] if spec.layout == "nchw" else shape[1]
    if size > 0 and size != spec.size:
        if explicit_size:  # the user asked for it; adapting silently would hide the mistake
            raise ConvmendError(f"--preprocess size={spec.size} does not fit input "
                                f"'{model_input['name']}' {shape}, which takes {size}x{size} "
                                f"images; use size={size} or leave size= out")
        spec = dataclasses.replace(spec, size=size)
    channels = shape[1] if spec.layout == "nchw" else shape[3]
    if channels != 3:
        raise ConvmendError(f"input '{model_input['name']}' has shape {shape}; with layout "
                            f"{spec.layout} that is {channels} channels, not 3 "
                            "(set layout= in --preprocess)")
    return spec


def _image_set(args: argparse.Namespace) -> Any:
    from convmend import images

    if args.images:
        return images.load_image_dir(args.images, count=args.count)
    return images.default_images(count=args.count)


def _probabilities(logits: np.ndarray) -> np.ndarray:
    flat = logits.reshape(-1).astype(np.float64)
    if flat.min() >= 0 and abs(flat.sum() - 1.0) < 1e-3:
        return flat
    e = np.exp(flat - flat.max())
    return e / e.sum()


def _tensor_stats(a: np.ndarray) -> dict[str, Any]:
    f = a.astype(np.float64)
    return {"shape": list(a.shape), "dtype": str(a.dtype), "min": float(f.min()) if f.size else 0.0,
            "max": float(f.max()) if f.size else 0.0, "mean": float(f.mean()) if f.size else 0.0,
            "std": float(f.std()) if f.size else 0.0}


def cmd_inspect(args: argparse.Namespace) -> int:
    from convmend import engine, fileio

    path = Path(args.model)
    out = fileio.check_output_path(args.json, [path]) if args.json else None
    graph = engine.load(path)
    summary = engine.summarize(graph)
    if args.text:
        print(graph.text(), end="")
        return 0
    meta = summary["metadata"]
    print(f"{path}  ({meta.get('format', path.suffix.lstrip('.'))}, {summary['node_count']} nodes, "
          f"{summary['parameter_count']:,} parameters)")
    for key in sorted(meta):
        # Per-node and per-opcode versions are kept for write-back; they only clutter here.
        if key == "format" or key.startswith(("tflite.op_version:", "tflite.opcode_version:")):
            continue
        print(f"  {key}: {meta[key]}")
    for kind in ("inputs", "outputs"):
        for v in summary[kind]:
            shape = "[" + ",".join("?" if d < 0 else str(d) for d in v["shape"]) + "]"
            print(f"  {kind[:-1]:6} {v['name']}: {v['dtype']}{shape} {v['layout']}")
    print("  ops (IR op: count):")
    for op, n in summary["ops"].items():
        print(f"    {op:22} {n}")
    print("  ops as the file spells them:")
    for op, n in summary["source_ops"].items():
        print(f"    {op:22} {n}")
    params = ", ".join(f"{k} {v:,}" for k, v in summary["parameters"].items())
    print(f"  parameters by dtype: {params}")
    print(f"  quantized tensors: {summary['quantized_tensors']} "
          f"({summary['per_channel_quantized']} per-channel)")
    if summary["layouts"]:
        print("  layouts: " + ", ".join(f"{k} {v}" for k, v in summary["layouts"].items()))
    if out is not None:
        fileio.write_json(out, {"tool": f"convmend {__version__}", "model": str(path),
                                "sha256": _sha256(path), **summary})
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from convmend import engine, fileio, labels
    from convmend.exactness import relative_error

    path = Path(args.model)
    if args.threads < 1:
        raise ConvmendError("--threads must be at least 1")
    out = fileio.check_output_path(args.json, [path]) if args.json else None
    graph = engine.load(path)
    inputs = graph.inputs()
    if len(inputs) != 1:
        raise ConvmendError(f"{path} has {len(inputs)} inputs; `run` feeds one image input")
    spec = _spec_for(inputs[0], args.preprocess)
    image_set = _image_set(args)
    interp = engine.Interpreter(graph, exact=args.exact, threads=args.threads)
    trace_names = None
    if args.trace and args.trace != "all":
        trace_names = [n.strip() for n in args.trace.split(",") if n.strip()]
        known = {v["name"] for v in graph.values()} | {n["name"] for n in graph.nodes()}
        unknown = [n for n in trace_names if n not in known]
        if unknown:
            raise ConvmendError(f"--trace names not in the model: {', '.join(unknown)}")
    native = None
    if args.native:
        from convmend import runners

        native = runners.open_runner(path)
    print(f"{path}: {len(image_set)} images, preprocess {spec.to_string()}"
          + (" (exact float64)" if args.exact else ""))
    results = []
    correct = labeled = agree = 0
    worst_rel = 0.0
    start = time.perf_counter()
    for item in image_set:
        x = spec.apply(item.load())[None]
        if args.trace:
            outputs, traced = interp.run_traced([x], trace_names)
        else:
            outputs, traced = interp.run([x]), {}
        logits = outputs[0]
        probs = _probabilities(logits)
        top5 = [int(i) for i in np.argsort(-probs)[:5]]
        entry: dict[str, Any] = {
            "image": item.name, "label": item.label, "top5": top5,
            "top1_name": labels.label_name(top5[0], probs.size),
            "top1_probability": float(probs[top5[0]]),
            "output": _tensor_stats(logits),
        }
        if item.label is not None:
            labeled += 1
            correct += int(top5[0] == item.label)
        if traced:
            entry["traced"] = {k: _tensor_stats(v) for k, v in traced.items()}
        if native is not None:
            ref = native.run(x.astype(np.float32))[0]
            rel = relative_error(logits, ref)
            same = int(np.argmax(ref)) == top5[0]
            agree += int(same)
            worst_rel = max(worst_rel, rel)
            entry["native"] = {"top1": int(np.argmax(ref)), "relative_error": rel,
                               "same_top1": same}
        results.append(entry)
        label = "" if item.label is None else f" (label {item.label})"
        extra = ("" if native is None
                 else f"  native rel.err {entry['native']['relative_error']:.2e}")
        print(f"  {item.name:34} {top5[0]:4} {entry['top1_name'][:28]:28} "
              f"{entry['top1_probability']:.3f}{label}{extra}")
    elapsed = time.perf_counter() - start
    summary: dict[str, Any] = {"images": len(results), "seconds": elapsed}
    if labeled:
        summary["top1_accuracy"] = correct / labeled
        print(f"top-1 accuracy on {labeled} labeled images: {correct}/{labeled}")
    if native is not None:
        summary["native_top1_agreement"] = agree / len(results)
        summary["native_max_relative_error"] = worst_rel
        print(f"native runtime: same top-1 on {agree}/{len(results)}, "
              f"max relative error {worst_rel:.2e}")
    if out is not None:
        fileio.write_json(out, {
            "tool": f"convmend {__version__}",
            "model": {"path": str(path), "sha256": _sha256(path)},
            "preprocess": spec.to_dict(), "variants": image_set.num_variants,
            "results": results, "summary": summary,
        })
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from convmend import demo

    return demo.main()


COMMANDS = {"inspect": cmd_inspect, "run": cmd_run, "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConvmendError as exc:
        print(f"convmend: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("convmend: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
