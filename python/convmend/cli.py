"""The `convmend` command line. Every failure the user can cause ends in one line on stderr
and a non-zero exit; a traceback means a bug in convmend."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from convmend import __version__
from convmend.errors import ConvmendError

EXIT_ERROR = 2


def _sha256(path: Path) -> str:
    from convmend.fileio import sha256_of

    return sha256_of(path)  # a SavedModel is a folder


def _image_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--images", metavar="DIR", help="image folder (default: the packaged images)")
    p.add_argument("--count", type=int, help="number of images (variants fill up when needed)")


def _contract_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preprocess-source", metavar="SPEC",
                   help="override the source's input contract (preset or key=value list)")
    p.add_argument("--preprocess-target", metavar="SPEC",
                   help="override the target's input contract")


def _trust_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust", action="store_true",
                   help="allow model files that carry code (Keras Lambda layers, pickles)")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="convmend",
        description="Find and fix what a deep-learning model converter broke.",
    )
    parser.add_argument("--version", action="version", version=f"convmend {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect",
                       help="ops, layouts, parameters, dtypes and quantization of a model")
    p.add_argument("model", help=".onnx, .tflite, .keras/.h5, .pt2/.pth or a SavedModel folder")
    _trust_option(p)
    p.add_argument("--json", metavar="OUT", help="also write the summary as JSON")
    p.add_argument("--text", action="store_true", help="print the whole IR in text form")

    p = sub.add_parser("run", help="run a model in convmend's interpreter on images")
    p.add_argument("model", help=".onnx, .tflite, .keras/.h5, .pt2/.pth or a SavedModel folder")
    _trust_option(p)
    _image_options(p)
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

    p = sub.add_parser("convert", help="convert a model with the registered converters")
    p.add_argument("source", help="model file or SavedModel folder")
    p.add_argument("--to", required=True, metavar="FORMAT",
                   help="torch, keras, tf (SavedModel), tflite or onnx")
    p.add_argument("--via", metavar="CHAIN",
                   help="converter or chain ('tf2onnx.keras.opset18 > onnx2torch'); default: "
                        "try the registered chains, faithful ones first, until one works")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="file to write (a folder for a SavedModel)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per conversion step")
    p.add_argument("--memory-gb", type=float, default=10.0, help="address-space cap per step")
    p.add_argument("--json", metavar="OUT", help="write the attempts as JSON")
    p.add_argument("--list", action="store_true", help="list the chains that would be tried")

    p = sub.add_parser("diff", help="compare a converted model with its source, natively")
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("--images", metavar="DIR", help="image folder (default: the packaged images)")
    p.add_argument("--labels", metavar="FILE",
                   help="JSON object mapping image file names to ImageNet class indices")
    p.add_argument("--count", type=int, help="number of images (variants fill up when needed)")
    _contract_options(p)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", metavar="OUT", help="write per-image results and totals as JSON")
    p.add_argument("--quiet", action="store_true", help="print the totals only")
    p.add_argument("--source-outputs", metavar="NPZ", help=argparse.SUPPRESS)

    p = sub.add_parser("matrix", help="convert the zoo models through every chain and diff")
    p.add_argument("--models", nargs="+", default=["mobilenet_v2", "resnet101", "inception_v3"])
    p.add_argument("--sources", nargs="+", default=["torch", "keras", "tf", "tflite"])
    p.add_argument("--targets", nargs="+", default=["torch", "keras", "tf", "tflite", "onnx"])
    p.add_argument("--images", type=int, default=20, metavar="N", help="images per cell")
    p.add_argument("--jobs", type=int, default=2, help="cells run at once")
    p.add_argument("--one-chain", action="store_true",
                   help="only the preferred chain of each cell")
    p.add_argument("--out", default=".", metavar="DIR",
                   help="folder for matrix.json, matrix.md and matrix.html")
    p.add_argument("--fresh", action="store_true", help="redo finished cells and conversions")
    p.add_argument("--report-only", action="store_true",
                   help="write the reports from finished cells; run nothing")
    p.add_argument("--with", dest="earlier", nargs="+", default=[], metavar="JSON",
                   help="earlier matrix.json files whose finished cells (same images and "
                        "converter versions) stand for cells this machine has not run")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per conversion step")
    p.add_argument("--memory-gb", type=float, default=10.0, help="address-space cap per step")

    p = sub.add_parser("zoo", help="build the model zoo (cached outside the repository)")
    p.add_argument("action", choices=["build"])
    p.add_argument("rest", nargs=argparse.REMAINDER,
                   help="--models ... --formats ... --timeout S")

    p = sub.add_parser("localize", help="where and why a converted model differs from its source")
    p.add_argument("source")
    p.add_argument("target")
    _image_options(p)
    _contract_options(p)
    p.add_argument("--no-confirm", action="store_true",
                   help="skip the causal check (patching each suspect in the IR)")
    p.add_argument("--native", action="store_true",
                   help="also compare labels in the models' own runtimes")
    _trust_option(p)
    p.add_argument("--json", metavar="OUT", help="write the report as JSON")
    p.add_argument("--html", metavar="OUT", help="write the report as an HTML page")

    p = sub.add_parser("repair", help="write a fixed copy of a converted model, proven natively")
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("-o", "--output", required=True, metavar="FIXED",
                   help="the repaired model, in the target's format (never an input; a new "
                        "folder for a SavedModel target)")
    _image_options(p)
    p.add_argument("--validate", type=int, default=32, metavar="N",
                   help="images (disagreeing ones first) that decide which edits stay")
    p.add_argument("--rounds", type=int, default=4, help="localize-and-repair rounds at most")
    p.add_argument("--ir-images", type=int, default=64, metavar="N",
                   help="images the IR work runs on (all images are verified natively)")
    p.add_argument("--input-fix", choices=["emit", "bake"], default="emit",
                   help="input-contract faults: record the preprocessing that works in the "
                        "output's sidecar (emit), or build it into the model's input (bake: "
                        "ONNX, TFLite, SavedModel)")
    _contract_options(p)
    p.add_argument("--restore-precision", action="store_true",
                   help="also undo declared-lossy changes (quantized or float16 weights get the "
                        "source's float values back)")
    p.add_argument("--no-verify", action="store_true",
                   help="skip running source and repaired file in their own runtimes")
    p.add_argument("--reconvert", action="store_true",
                   help="when the IR repair cannot fix (or feed, or write) the target, convert "
                        "the source again through the registered chains and keep the first "
                        "that agrees natively (converter.choice)")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="seconds per conversion step (with --reconvert)")
    p.add_argument("--memory-gb", type=float, default=10.0,
                   help="address-space cap per conversion step (with --reconvert)")
    _trust_option(p)
    p.add_argument("--json", metavar="OUT", help="write the report as JSON")
    p.add_argument("--html", metavar="OUT", help="write the report as an HTML page")

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
    size = shape[spec.layout.index("h")]
    if size > 0 and size != spec.size:
        if explicit_size:  # the user asked for it; adapting silently would hide the mistake
            raise ConvmendError(f"--preprocess size={spec.size} does not fit input "
                                f"'{model_input['name']}' {shape}, which takes {size}x{size} "
                                f"images; use size={size} or leave size= out")
        spec = dataclasses.replace(spec, size=size)
    channels = shape[spec.layout.index("c")]
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
    graph = engine.load(path, trust=args.trust)
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
    graph = engine.load(path, trust=args.trust)
    inputs = graph.inputs()
    if len(inputs) != 1:
        raise ConvmendError(f"{path} has {len(inputs)} inputs; `run` feeds one image input")
    if not args.preprocess and Path(str(path) + ".json").is_file():
        # A model convmend built or converted carries its input contract in its sidecar.
        from convmend.contract import contract_of

        spec = contract_of(path).for_input(inputs[0]["name"], inputs[0]["shape"],
                                           "recorded").spec
    else:
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


def cmd_convert(args: argparse.Namespace) -> int:
    from convmend import contract as contracts
    from convmend import fileio, preprocess
    from convmend.convert import execute, registry
    from convmend.convert.check import model_format

    source = Path(args.source)
    target = registry.check_format(args.to)
    src_format = model_format(source)
    if src_format == target:
        raise ConvmendError(f"{source} is already {target}")
    out = fileio.check_output_path(args.output, [source])
    report = fileio.check_output_path(args.json, [source, out]) if args.json else None
    if args.via:
        chain = registry.parse_chain(args.via)
        if chain[0].reads != src_format or chain[-1].writes != target:
            raise ConvmendError(f"--via {registry.chain_name(chain)} goes from "
                                f"{chain[0].reads} to {chain[-1].writes}, not from "
                                f"{src_format} to {target}")
        candidates = [chain]
    else:
        candidates = registry.preferred_chains(src_format, target)
        if not candidates:
            raise ConvmendError(f"no registered converter or chain goes from {src_format} "
                                f"to {target}")
    if args.list:
        for chain in candidates:
            print(registry.chain_name(chain))
        return 0
    probe = execute.probe_model(source, memory_gb=args.memory_gb)
    attempts = []
    winner = None
    for chain in candidates:
        print(f"trying {registry.chain_name(chain)} ...", flush=True)
        result = execute.convert_chain(chain, source, probe, args.timeout, args.memory_gb)
        attempts.append(result.to_dict())
        if result.status == execute.OK and result.output:
            winner = result
            print(f"  ok in {result.seconds:.1f}s")
            break
        step = result.steps[-1]
        print(f"  {step.status} at {step.converter}: {step.error}"
              + (f" (log: {step.log})" if step.log else ""))
    if report is not None:
        fileio.write_json(report, {"tool": f"convmend {__version__}", "source": str(source),
                                   "target_format": target, "attempts": attempts,
                                   "output": str(out) if winner else None})
    if winner is None:
        raise ConvmendError(f"no chain converted {source} to {target} "
                            f"({len(attempts)} tried; see the logs above)")
    fileio.copy_model_atomically(Path(winner.output), out)
    final = winner.steps[-1].probe or {}
    handed = final.get("contract")
    if handed:
        contracts.write_contract(out, contracts.InputContract.from_dict(handed))
        layout = handed["spec"]["layout"]
        note = "" if layout in preprocess.STANDARD_LAYOUTS else (
            f"; it takes its images as {layout}, a layout no framework uses (the converter "
            "read the source's layout as another); `convmend repair --input-fix bake` makes "
            "an ONNX or TFLite model take the source's again")
        print(f"wrote {out} ({winner.chain}); input contract: {handed['origin']}{note}")
    else:
        print(f"wrote {out} ({winner.chain}); no input contract: "
              f"{final.get('contract_error') or 'the converter handed on none'}")
    return 0


def _labels_file(path: str | None) -> dict[str, int] | None:
    import json

    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text())
        return {str(k): int(v) for k, v in data.items()}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise ConvmendError(f"cannot read labels file {path}: it must be a JSON object of "
                            f"file name -> class index ({exc})") from exc


def cmd_diff(args: argparse.Namespace) -> int:
    from convmend import diff as diffing
    from convmend import fileio, images

    src, dst = Path(args.source), Path(args.target)
    out = fileio.check_output_path(args.json, [src, dst]) if args.json else None
    if args.images:
        image_set = images.load_image_dir(args.images, labels=_labels_file(args.labels),
                                          count=args.count)
    else:
        image_set = images.default_images(count=args.count)
    if args.source_outputs:
        source = diffing.run_side_cached(src, image_set, args.source_outputs,
                                         args.preprocess_source, args.threads)
    else:
        source = diffing.run_side(src, image_set, args.preprocess_source, args.threads,
                                  label="source")
    target = diffing.run_side(dst, image_set, args.preprocess_target, args.threads,
                              label="target")
    result = diffing.compare(source, target, image_set)
    summary = result["summary"]
    if not args.quiet:
        print(f"source {src} ({source.format}): {source.contract.spec.to_string()} "
              f"[{source.contract.origin}]")
        print(f"target {dst} ({target.format}): {target.contract.spec.to_string()} "
              f"[{target.contract.origin}]")
        print(f"  {'image':34} {'source top-1':28} {'target top-1':28} top5  max|d|   cos")
        for e in result["images"]:
            mark = " " if e["agree"] else "*"
            print(f"{mark} {e['image'][:34]:34} {e['source_top1']:4} "
                  f"{e['source_label'][:23]:23} {e['target_top1']:4} {e['target_label'][:23]:23}"
                  f" {e['top5_overlap']:.1f}  {e['max_abs_diff']:.2e} {e['cosine']:.4f}")
    variants = f" ({summary['variants']} variants)" if summary["variants"] else ""
    print(f"{summary['images']} images{variants}: top-1 agreement "
          f"{summary['top1_agreement']:.1%} ({summary['disagreeing_images']} disagree), "
          f"mean top-5 overlap {summary['mean_top5_overlap']:.2f}, max |diff| "
          f"{summary['max_abs_diff']:.3g}, mean |diff| {summary['mean_abs_diff']:.3g}, "
          f"min cosine {summary['min_cosine']:.4f}")
    if summary["labeled_images"]:
        print(f"accuracy on {summary['labeled_images']} labeled images: source "
              f"{summary['source_accuracy']:.1%}, target {summary['target_accuracy']:.1%}")
    for reason in summary.get("weak_comparison", []):
        print(f"note: {reason}")
    if out is not None:
        fileio.write_json(out, {"tool": f"convmend {__version__}",
                                "source": diffing.side_info(source),
                                "target": diffing.side_info(target), **result})
    return 0


def cmd_matrix(args: argparse.Namespace) -> int:
    from convmend import matrix
    from convmend.convert import registry
    from convmend.zoo.build import MODEL_NAMES

    for model in args.models:
        if model not in MODEL_NAMES:
            raise ConvmendError(f"unknown zoo model {model!r}; known: {', '.join(MODEL_NAMES)}")
    for fmt in (*args.sources, *args.targets):
        registry.check_format(fmt)
    if args.images < 1 or args.jobs < 1:
        raise ConvmendError("--images and --jobs must be at least 1")
    out_dir = Path(args.out)
    if not out_dir.is_dir():
        raise ConvmendError(f"output folder does not exist: {out_dir}")
    document = matrix.run_matrix(args.models, args.sources, args.targets, args.images,
                                 args.jobs, not args.one_chain, args.timeout, args.memory_gb,
                                 reuse=not args.fresh, log=lambda line: print(line, flush=True),
                                 cached_only=args.report_only, earlier=args.earlier)
    paths = matrix.write_reports(document, out_dir)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_zoo(args: argparse.Namespace) -> int:
    from convmend.zoo import build

    rest = [a for a in args.rest if a != "--"]
    return build.main(rest)


def cmd_localize(args: argparse.Namespace) -> int:
    from convmend import fileio
    from convmend import localize as localizing

    src, dst = Path(args.source), Path(args.target)
    for model in (src, dst):
        if not model.exists():
            raise ConvmendError(f"model file not found: {model}")
    out_json = fileio.check_output_path(args.json, [src, dst]) if args.json else None
    out_html = (fileio.check_output_path(args.html, [src, dst] + ([out_json] if out_json else []))
                if args.html else None)
    if args.count is not None and args.count < 1:
        raise ConvmendError("--count must be at least 1")
    image_set = _image_set(args)
    report = localizing.localize(src, dst, images=image_set, trust=args.trust,
                                 confirm=not args.no_confirm, native=args.native,
                                 source_preprocess=args.preprocess_source,
                                 target_preprocess=args.preprocess_target,
                                 log=lambda line: print(f"... {line}", file=sys.stderr,
                                                        flush=True))
    for line in localizing.summary_lines(report):
        print(line)
    if out_json is not None:
        fileio.write_json(out_json, report)
    if out_html is not None:
        from convmend.report_html import write_html

        write_html(out_html, report)
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from convmend import fileio
    from convmend import repair as repairing

    src, dst, out = Path(args.source), Path(args.target), Path(args.output)
    for model in (src, dst):
        if not model.exists():
            raise ConvmendError(f"model file not found: {model}")
    fileio.check_output_path(out, [src, dst])
    reports = [fileio.check_output_path(p, [src, dst, out]) for p in (args.json, args.html) if p]
    if len(reports) == 2 and reports[0].resolve() == reports[1].resolve():
        raise ConvmendError("--json and --html name the same file")
    if args.count is not None and args.count < 1:
        raise ConvmendError("--count must be at least 1")
    if args.validate < 1 or args.rounds < 1 or args.ir_images < 1:
        raise ConvmendError("--validate, --rounds and --ir-images must be at least 1")
    report = repairing.repair(src, dst, out, images=_image_set(args), trust=args.trust,
                              input_fix=args.input_fix, validate=args.validate,
                              max_rounds=args.rounds, verify=not args.no_verify,
                              ir_images=args.ir_images,
                              restore_precision=args.restore_precision,
                              source_preprocess=args.preprocess_source,
                              target_preprocess=args.preprocess_target,
                              reconvert=args.reconvert, timeout=args.timeout,
                              memory_gb=args.memory_gb,
                              log=lambda line: print(f"... {line}", file=sys.stderr, flush=True))
    for line in repairing.summary_lines(report):
        print(line)
    if args.json:
        fileio.write_json(args.json, report)
    if args.html:
        from convmend.report_html import write_repair_html

        write_repair_html(args.html, report)
    # 1: a file was written but does not agree with the source everywhere yet.
    return 0 if report["status"] in ("repaired", "already_faithful", "not_verified") else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from convmend import demo

    return demo.main()


COMMANDS = {"inspect": cmd_inspect, "run": cmd_run, "convert": cmd_convert, "diff": cmd_diff,
            "matrix": cmd_matrix, "zoo": cmd_zoo, "localize": cmd_localize,
            "repair": cmd_repair,
            "demo": cmd_demo}


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
