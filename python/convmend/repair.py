"""Fix what a converter broke and prove it: the `convmend repair` job.

1. **Input contract** (Python, as in localize): when the target is fed other pixels than the
   source expects, either the repaired model's contract (its sidecar ``<out>.json``) records
   the preprocessing that works (``input_fix="emit"``, the default), or the difference is
   baked into the model's input as a per-channel Gather / Mul / Add (``input_fix="bake"``),
   so that the model takes what its old contract produces.
2. **Parameters, hyperparameters, graph** (C++, ``convmend._core.repair``): localize, try
   each finding's edits on a clone, keep an edit only when the validation batch (the
   disagreeing images and agreeing ones) improves and no agreeing image starts to disagree,
   repeat on the repaired graph until it agrees or nothing helps.
3. **Write** the repaired graph in the target's own format (ONNX and TFLite through the C++
   writers; Keras, PyTorch and SavedModel through ``writeback``), atomically, never over an
   input; the sidecar carries the repaired contract.
4. **Verify** natively: the source and the repaired file run in their own runtimes on all
   images; the report gives disagreement and logit error before and after.

Declared-lossy changes (quantization, float16) are reported and kept unless
``restore_precision`` asks for the source's float weights.

With ``reconvert`` (FAULTS.md ``converter.choice``), a target the IR repair cannot fix (or
cannot even feed or write: an input onnx2tf made [1, 224, 3, 224]) is converted
again from the source through each registered chain to the target's format, faithful chains
first; the first whose output agrees with the source natively on every image is written.
Report schema: docs/repair.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from convmend.errors import ConvmendError

SCHEMA = "convmend.repair/1"
# Native agreement the repair aims at (the bar): relative logit error; a source that
# rounds more than this by itself in float32 is held to diff.faithful_bound (_native_goal).
GOAL_RELATIVE_ERROR = 1e-4
ROUNDING_IMAGES = 16
WRITABLE_FORMATS = {".onnx": "onnx", ".tflite": "tflite", ".keras": "keras", ".h5": "keras",
                    ".hdf5": "keras", ".pt2": "torch", ".pth": "torch", ".pt": "torch"}
INPUT_FIXES = ("emit", "bake")
_WRITERS = ("repair writes ONNX (.onnx), TFLite (.tflite), Keras (.keras, .h5), PyTorch (.pt2, "
            "state-dict .pth/.pt) and TensorFlow SavedModel (folder) targets")


# ---------------------------------------------------------------- input contract


def _channel_axis(layout: str) -> int:
    return layout.index("c")


def fit_input_transform(own: np.ndarray, wanted: np.ndarray,
                        layout: str) -> tuple[list[int], np.ndarray, np.ndarray] | None:
    """(channel order, scale, shift) with ``wanted[:, c] = own[:, order[c]] * a[c] + b[c]``,
    or None when no per-channel affine map fits (the geometry differs)."""
    axis = _channel_axis(layout)
    if own.shape != wanted.shape or own.shape[axis] != 3:
        return None
    o = np.moveaxis(own.astype(np.float64), axis, 0).reshape(3, -1)
    w = np.moveaxis(wanted.astype(np.float64), axis, 0).reshape(3, -1)
    span = max(float(np.abs(w).max()), 1e-12)
    for order in ([0, 1, 2], [2, 1, 0]):
        a, b, ok = np.zeros(3), np.zeros(3), True
        for c in range(3):
            x, y = o[order[c]], w[c]
            design = np.stack([x, np.ones_like(x)], axis=1)
            (slope, shift), *_ = np.linalg.lstsq(design, y, rcond=None)
            if np.abs(x * slope + shift - y).max() > 1e-4 * span:
                ok = False
                break
            a[c], b[c] = slope, shift
        if ok:
            return order, a, b
    return None


def bake_input(graph: Any, order: list[int], scale: np.ndarray, shift: np.ndarray,
               layout: str) -> list[str]:
    """Insert Gather (when the channel order changes), Mul and Add after the graph's image
    input; the descriptions of what was inserted."""
    name = graph.inputs()[0]["name"]
    axis = _channel_axis(layout)
    shape = [1, 1, 1, 1]
    shape[axis] = 3
    done: list[str] = []
    current, tag, first = name, "convmend_input", ""
    steps = []
    if order != [0, 1, 2]:
        graph.add_constant(f"{tag}/order", np.asarray(order, dtype=np.int64))
        steps.append(("Gather", "gather", f"{tag}/order", {"axis": axis},
                      f"Gather channels {order} on axis {axis}"))
    if not np.allclose(scale, 1.0):
        graph.add_constant(f"{tag}/scale", scale.astype(np.float32).reshape(shape))
        steps.append(("Mul", "mul", f"{tag}/scale", {},
                      "Mul by " + ", ".join(f"{v:.6g}" for v in scale)))
    if not np.allclose(shift, 0.0):
        graph.add_constant(f"{tag}/shift", shift.astype(np.float32).reshape(shape))
        steps.append(("Add", "add", f"{tag}/shift", {},
                      "Add " + ", ".join(f"{v:.6g}" for v in shift)))
    for op, short, constant, attrs, text in steps:
        node = f"{tag}/{short}"
        graph.add_node(op, node, [current, constant], [f"{node}:0"], attrs, "convmend", node, op)
        first = first or node
        current = f"{node}:0"
        done.append(text)
    if first:
        graph.replace_uses(name, current, first)
        graph.infer_shapes()
        graph.verify()
    return done


def bake_transpose(graph: Any, permutation: Sequence[int]) -> list[str]:
    """Make the graph's image input take the layout it had before ``permutation`` (the
    target's input is the source's transposed by it): the input gets the source layout's
    shape and a Transpose by ``permutation`` after it feeds what the input fed."""
    name = graph.inputs()[0]["name"]
    shape = list(graph.inputs()[0]["shape"])
    perm = [int(k) for k in permutation]
    if sorted(perm) != list(range(len(shape))):
        raise ConvmendError(f"permutation {perm} does not fit input {name} {shape}")
    source_shape = [shape[k] for k in np.argsort(perm)]
    node = "convmend_input/transpose"
    graph.add_node("Transpose", node, [name], [f"{node}:0"], {"perm": perm}, "convmend", node,
                   "Transpose")
    graph.replace_uses(name, f"{node}:0", node)
    graph.set_input_shape(name, source_shape)
    graph.infer_shapes()
    graph.verify()
    return [f"input {name} now {source_shape}; Transpose {perm} after it gives the "
            f"{shape} the model was converted with"]


def _input_repair(finding: dict[str, Any], source_contract: Any, target_contract: Any,
                  target_graph: Any, pixels: list[np.ndarray], input_fix: str
                  ) -> tuple[dict[str, Any], Any, Any]:
    """Apply one input-stage finding: (step record, contract of the repaired model, graph)."""
    from convmend.contract import InputContract
    from convmend.preprocess import parse_spec

    patch = finding.get("patch") or {}
    t_in = target_graph.inputs()[0]
    step = {"code": finding["code"], "stage": "input contract", "round": 0,
            "target_nodes": finding.get("target_nodes", []),
            "source_nodes": finding.get("source_nodes", []),
            "evidence": finding.get("evidence", {}), "kept": False}
    spec = None
    if patch.get("kind") in ("preprocess", "input_transform") and patch.get("spec"):
        spec = parse_spec(patch["spec"])
    elif patch.get("kind") == "transpose_input":
        # The contract adapted to the target's input already feeds the new layout (the
        # target's own contract's layout where its input's shape agrees with it).
        spec = source_contract.for_input(t_in["name"], t_in["shape"], "adapted",
                                         layout=target_contract.spec.layout).spec
    if spec is None:
        step["reason"] = "no preprocessing or layout restores agreement; not repairable here"
        return step, target_contract, target_graph
    emitted = InputContract(spec, t_in["name"], tuple(t_in["shape"]),
                            "convmend repair: the source's preprocessing for this input")
    if input_fix == "bake" and patch.get("kind") == "transpose_input":
        graph = target_graph.clone()
        done = bake_transpose(graph, patch["permutation"])
        new_in = graph.inputs()[0]
        baked = source_contract.for_input(new_in["name"], new_in["shape"],
                                          "convmend repair: the source's layout, baked",
                                          layout=source_contract.spec.layout)
        step.update(kept=True, fix="bake", edits=done,
                    reason="baked into the model's input: it now takes the source's layout "
                           f"({source_contract.spec.layout})")
        return step, baked, graph
    if input_fix == "bake" and patch.get("kind") != "transpose_input":
        own = target_contract.batch(pixels[:4])
        wanted = emitted.batch(pixels[:4])
        fit = fit_input_transform(own, wanted, spec.layout)
        if fit is not None:
            graph = target_graph.clone()
            done = bake_input(graph, *fit, spec.layout)
            step.update(kept=True, fix="bake", edits=done,
                        reason="baked into the model's input: it now takes what its contract "
                               f"({target_contract.spec.to_string()}) produces")
            return step, target_contract, graph
        step["note"] = ("the two preprocessings differ in geometry (resize or crop), which "
                        "cannot be baked as a per-channel map; the contract is emitted instead")
    if spec == target_contract.spec:
        step["reason"] = (
            "the target's own contract already feeds it this way; making it take the "
            "source's layout needs an op at its input (--input-fix bake: ONNX, TFLite, "
            "SavedModel)"
            if patch.get("kind") == "transpose_input" else
            "the preprocessing that works is the target's own contract; nothing to emit")
        return step, target_contract, target_graph
    step.update(kept=True, fix="emit", edits=[f"contract: {spec.to_string()}"],
                reason="the repaired model's sidecar records the preprocessing that works")
    return step, emitted, target_graph


# ---------------------------------------------------------------- the job


def _validation_indices(source_out: np.ndarray, target_out: np.ndarray, size: int) -> list[int]:
    """Up to ``size`` images: the disagreeing ones first (at most half), agreeing ones after."""
    differs = source_out.argmax(1) != target_out.argmax(1)
    bad = [int(i) for i in np.flatnonzero(differs)]
    good = [int(i) for i in np.flatnonzero(~differs)]
    take_bad = bad[:max(size // 2, size - len(good))]
    chosen = take_bad + good[:size - len(take_bad)]
    return sorted(chosen)


def _check_paths(src: Path, dst: Path, out: Path) -> str:
    from convmend.fileio import check_output_path

    for p in (src, dst):
        if not p.exists():
            raise ConvmendError(f"model file not found: {p}")
    check_output_path(out, [src, dst])
    if dst.is_dir():
        from convmend.frontends.tf import _is_saved_model

        if not _is_saved_model(dst):
            raise ConvmendError(f"{dst} is a folder but not a TensorFlow SavedModel (no "
                                f"saved_model.pb); {_WRITERS}")
        if out.exists():
            raise ConvmendError(f"output folder {out} already exists; remove it or choose "
                                "another path; nothing written")
        return "saved_model"
    fmt = WRITABLE_FORMATS.get(dst.suffix.lower())
    if fmt is None:
        raise ConvmendError(
            f"cannot write a repaired {dst.suffix or 'extension-less'} model: {_WRITERS}")
    if out.suffix.lower() != dst.suffix.lower():
        raise ConvmendError(f"output {out} must have the target's extension {dst.suffix} "
                            "(the repaired model is written in the target's own format)")
    return fmt


def _write(fmt: str, dst: Path, out: Path, original: Any, repaired: Any, trust: bool,
           changed: bool) -> list[str]:
    """Write the repaired model in the target's format; what was written, in words."""
    from convmend import writeback
    from convmend.fileio import copy_model_atomically, save_atomically

    if not changed:  # nothing inside the model changed: the target's own bytes
        copy_model_atomically(dst, out)
        return ["the target's own bytes (only its input contract changed)"]
    if fmt in ("onnx", "tflite"):
        save_atomically(out, repaired.save)
        return [f"the repaired IR through the C++ {fmt} writer"]
    if fmt == "saved_model":
        return writeback.write_saved_model(dst, original, repaired, out)
    if fmt == "keras":
        assigned = writeback.write_keras(dst, original, repaired, out, trust)
        return [f"Keras variable {name}" for name in assigned]
    assigned = writeback.write_torch(dst, original, repaired, out)
    return [f"PyTorch tensor {name}" for name in assigned]


def _write_sidecar(dst: Path, out: Path, contract: Any) -> None:
    """The target's sidecar (a state dict's architecture, the conversion record) carried
    over, with the repaired model's input contract."""
    from convmend.contract import write_contract
    from convmend.fileio import write_json

    sidecar = Path(str(dst) + ".json")
    if sidecar.is_file():
        try:
            data = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            data["repaired_from"] = str(dst)
            write_json(Path(str(out) + ".json"), data)
    write_contract(out, contract)


def _source_outputs_path(src: Path, image_set: Any) -> Path:
    """Where the source's native outputs on ``image_set`` are kept (by file hash and image
    names): one source usually meets many targets, and a framework model is the slow side to
    load."""
    import hashlib

    from convmend.fileio import sha256_of
    from convmend.zoo.build import cache_dir

    names = hashlib.sha256("\n".join(image_set.names).encode()).hexdigest()[:16]
    cache = cache_dir() / "outputs" / f"{sha256_of(src)[:16]}-{names}.npz"
    cache.parent.mkdir(parents=True, exist_ok=True)
    return cache


def _native_goal(src: Path, image_set: Any, result: dict[str, Any]) -> dict[str, Any]:
    """The relative logit error a file with native ``result`` must reach to agree with the
    source: GOAL_RELATIVE_ERROR, or, when the file changes no label and misses it only, the
    faithful bound of the source's own float32 error on the same images (a deep network such
    as ResNet101 rounds 2e-4 by itself; its faithful conversions miss 1e-4 too). The float32
    error is measured then only, once per source and image set, on the first
    ROUNDING_IMAGES images (a float64 run of a deep network is slow; fewer images can only
    give a smaller, stricter bound)."""
    from convmend.diff import faithful_bound, float32_error
    from convmend.fileio import write_json

    goal = {"relative_error": GOAL_RELATIVE_ERROR, "basis": "fixed"}
    if (result.get("disagreeing") != 0
            or result.get("max_relative_error", 1.0) <= GOAL_RELATIVE_ERROR):
        return goal
    outputs = _source_outputs_path(src, image_set)
    saved = outputs.with_name(outputs.stem + "-float32-error.json")
    used = min(len(image_set), ROUNDING_IMAGES)
    try:
        record = json.loads(saved.read_text())
        if record["images"] != used:
            raise ValueError("measured on another number of images")
        own = float(record["float32_error"])
    except (OSError, ValueError, KeyError, TypeError):
        try:
            own = float32_error(src, image_set, outputs, limit=ROUNDING_IMAGES)
        except ConvmendError as exc:
            goal["float32_error_failed"] = str(exc)[:300]
            return goal
        write_json(saved, {"model": str(src), "images": used, "float32_error": own})
    return {"relative_error": faithful_bound(own), "basis": "source float32 rounding",
            "source_float32_error": own}


def _agrees(result: dict[str, Any], goal: dict[str, Any]) -> bool:
    return (result.get("disagreeing") == 0
            and result.get("max_relative_error", 1.0) <= goal["relative_error"])


def _native(src: Path, paths: dict[str, Path], image_set: Any) -> dict[str, Any]:
    """Source vs each named file in their own runtimes on every image."""
    from convmend.diff import compare, run_side, run_side_cached

    source = run_side_cached(src, image_set, _source_outputs_path(src, image_set))
    out = {"source_seconds": round(source.seconds, 3)}
    for key, path in paths.items():
        try:
            side = run_side(path, image_set, label=key)
            summary = compare(source, side, image_set)["summary"]
        except ConvmendError as exc:  # e.g. outputs of another shape: the fault itself
            out[key] = {"error": str(exc)}
            continue
        out[key] = {"disagreeing": summary["disagreeing_images"],
                    "disagreement_percent": summary["disagreement_percent"],
                    "max_relative_error": summary["max_relative_error"],
                    "max_abs_diff": summary["max_abs_diff"],
                    "seconds": round(side.seconds, 3)}
        if "source_accuracy" in summary:
            out[key]["accuracy"] = summary["target_accuracy"]
            out["source_accuracy"] = summary["source_accuracy"]
    return out


def repair(src: str | Path, dst: str | Path, out: str | Path, images: Any = None,
           count: int | None = None, trust: bool = False, input_fix: str = "emit",
           validate: int = 32, max_rounds: int = 4, verify: bool = True, ir_images: int = 64,
           restore_precision: bool = False,
           source_preprocess: str | None = None, target_preprocess: str | None = None,
           reconvert: bool = False, timeout: float = 900.0, memory_gb: float = 10.0,
           log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Repair ``dst`` (converted from ``src``) into ``out``; the report document.

    The IR repair first (``_repair_in_ir``); with ``reconvert``, when it raises or its file
    does not agree natively, re-conversion through the registered chains (``_reconvert``)."""
    say = log or (lambda line: None)
    src, dst, out = Path(src), Path(dst), Path(out)
    options = dict(images=images, count=count, trust=trust, input_fix=input_fix,
                   validate=validate, max_rounds=max_rounds, verify=verify or reconvert,
                   ir_images=ir_images, restore_precision=restore_precision,
                   source_preprocess=source_preprocess, target_preprocess=target_preprocess,
                   log=log)
    if not reconvert:
        return _repair_in_ir(src, dst, out, **options)
    start = time.perf_counter()
    try:
        report = _repair_in_ir(src, dst, out, **options)
    except ConvmendError as exc:
        report, ir_error = None, str(exc)
    if report is not None:
        if report["status"] in ("repaired", "already_faithful"):
            return report
        ir_error = (f"the IR repair ended {report['status']} (native: "
                    f"{(report.get('native') or {}).get('repaired')})")
    say(f"{ir_error}; re-converting the source")
    try:
        return _reconvert(src, dst, out, _image_set_of(images, count), ir_error,
                          report.get("ir") if report else None, timeout, memory_gb, say, start)
    except ConvmendError as exc:
        if report is None:
            raise
        report["reconvert"] = {"error": str(exc)}  # the IR's improved file stays the answer
        return report


def _image_set_of(images: Any, count: int | None) -> Any:
    from convmend.localize import _image_set

    return _image_set(images, count)


def _reconvert(src: Path, dst: Path, out: Path, image_set: Any, ir_error: str,
               ir: dict[str, Any] | None, timeout: float, memory_gb: float,
               say: Callable[[str], None], start: float) -> dict[str, Any]:
    """converter.choice: convert ``src`` again through each registered chain to ``dst``'s
    format (faithful-first), check each output natively on every image, write the first that
    agrees within the goal to ``out``. Every attempt is a step of the report."""
    from convmend import __version__
    from convmend.contract import InputContract, contract_of, write_contract
    from convmend.convert import execute, registry
    from convmend.convert.check import model_format
    from convmend.fileio import (
        check_output_path,
        copy_model_atomically,
        remove_model,
        sha256_of,
    )

    check_output_path(out, [src, dst])
    src_fmt, dst_fmt = model_format(src), model_format(dst)
    if dst.is_dir() and out.exists():
        raise ConvmendError(f"output folder {out} already exists; remove it or choose another "
                            "path; nothing written")
    if not dst.is_dir() and out.suffix.lower() != dst.suffix.lower():
        raise ConvmendError(f"output {out} must have the target's extension {dst.suffix}; "
                            "nothing written")
    chains = registry.preferred_chains(src_fmt, dst_fmt)
    if not chains:
        raise ConvmendError(f"no registered converter goes from {src_fmt} to {dst_fmt}; "
                            f"{ir_error}; nothing written")
    target_sha = sha256_of(dst)
    probe = execute.probe_model(src, memory_gb=memory_gb)
    native = _native(src, {"target": dst}, image_set)
    steps: list[dict[str, Any]] = []
    chosen = None
    for chain in chains:
        name = registry.chain_name(chain)
        say(f"re-converting through {name}")
        result = execute.convert_chain(chain, src, probe, timeout, memory_gb)
        step: dict[str, Any] = {"code": "converter.choice", "stage": "converter",
                                "kept": False, "edits": [f"re-converted through {name}"],
                                "before": native["target"]}
        steps.append(step)
        if result.status != execute.OK or not result.output:
            last = result.steps[-1]
            step["reason"] = f"{last.status} at {last.converter}: {last.error}"
            continue
        candidate = Path(result.output)
        if sha256_of(candidate) == target_sha:
            step["reason"] = "this chain writes the target's own bytes"
            continue
        check = _native(src, {"candidate": candidate}, image_set)["candidate"]
        step["after"] = check
        if "error" in check:
            step["reason"] = check["error"]
            continue
        goal = _native_goal(src, image_set, check)
        if not _agrees(check, goal):
            step["reason"] = (f"{check['disagreeing']} image(s) disagree, max rel. logit "
                              f"error {check['max_relative_error']:.2g} (goal "
                              f"{goal['relative_error']:.2g})")
            continue
        step["kept"] = True
        step["reason"] = (f"agrees with the source on every image (max rel. logit error "
                          f"{check['max_relative_error']:.2g})")
        chosen = (name, result, check, goal)
        break
    if chosen is None:
        tried = "; ".join(f"{s['edits'][0][len('re-converted through '):]}: {s['reason']}"
                          for s in steps)
        raise ConvmendError(f"{dst} could not be repaired: {ir_error}; no registered chain "
                            f"converted {src} faithfully ({tried})"[:1500] + "; nothing written")
    name, result, check, goal = chosen
    say(f"writing {out} ({name})")
    copy_model_atomically(Path(result.output), out)
    final = result.steps[-1].probe or {}
    try:
        contract = (InputContract.from_dict(final["contract"]) if "contract" in final
                    else contract_of(out))
        write_contract(out, contract)
    except BaseException:
        remove_model(out)
        raise
    return {
        "schema": SCHEMA,
        "tool": f"convmend {__version__}",
        "seconds": round(time.perf_counter() - start, 2),
        "status": "repaired",
        "inputs": {
            "source": {"path": str(src), "format": src_fmt, "sha256": sha256_of(src)},
            "target": {"path": str(dst), "format": dst_fmt, "sha256": target_sha},
        },
        "output": {"path": str(out), "format": dst_fmt, "sha256": sha256_of(out),
                   "contract": contract.to_dict(),
                   "written": [f"the source re-converted through {name}"]},
        "images": {"count": len(image_set), "variants": image_set.num_variants, "ir": 0,
                   "validation": 0},
        "ir": {"error": ir_error, **({"attempt": ir} if ir else {})},
        "native": {"source_seconds": native["source_seconds"], "target": native["target"],
                   "repaired": check, "goal": goal},
        "steps": steps,
        "remaining": [],
    }


def _repair_in_ir(src: Path, dst: Path, out: Path, images: Any = None,
                  count: int | None = None, trust: bool = False, input_fix: str = "emit",
                  validate: int = 32, max_rounds: int = 4, verify: bool = True,
                  ir_images: int = 64, restore_precision: bool = False,
                  source_preprocess: str | None = None, target_preprocess: str | None = None,
                  log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Repair ``dst`` in convmend's IR and write it in its own format; the report document.

    The IR work (input stage, localization, the loop) runs on the first ``ir_images``
    images; of those, ``validate`` (disagreeing ones first) decide which edits stay;
    ``verify`` runs source, target and repaired file natively on all images. Raises
    ConvmendError, with nothing written, when the target cannot be read, written back, or
    improved at all."""
    from convmend import __version__
    from convmend.convert.check import model_format
    from convmend.fileio import remove_model, sha256_of
    from convmend.localize import (
        _image_set,
        disagreeing,
        discrepancy,
        input_contract_stage,
        load_pair,
        run_ir,
    )

    if input_fix not in INPUT_FIXES:
        raise ConvmendError(f"input_fix must be one of {', '.join(INPUT_FIXES)}")
    say = log or (lambda line: None)
    start = time.perf_counter()
    timings: dict[str, float] = {}
    mark = [start]

    def lap(phase: str) -> None:  # seconds per phase, for the report
        now = time.perf_counter()
        timings[phase] = round(now - mark[0], 2)
        mark[0] = now

    fmt = _check_paths(src, dst, out)
    image_set = _image_set(images, count)
    pixels = [item.load() for item in list(image_set)[:max(ir_images, 1)]]
    source_graph, original_graph, source_contract, target_contract, x_source, source_out = \
        load_pair(src, dst, pixels, trust, source_preprocess, target_preprocess, "repair", say)
    target_graph = original_graph.clone()
    lap("load (frontends, readers, the source in the IR)")

    say("input-contract stage")
    in_findings, in_evidence, own_out, x_target = input_contract_stage(
        source_graph, target_graph, source_contract, target_contract, pixels, source_out)
    ir_before = {"relative_error": discrepancy(source_out, own_out),
                 "disagreeing": disagreeing(source_out, own_out)}
    steps: list[dict[str, Any]] = []
    repaired_contract = target_contract
    # Baking inserts ops: the ONNX and TFLite writers write a changed structure, the
    # SavedModel writer an input prefix before the frozen graph.
    can_bake = fmt in ("onnx", "tflite", "saved_model")
    for finding in sorted(in_findings, key=lambda f: -f.get("confidence", 0)):
        if not finding.get("confirmed"):
            continue
        step, repaired_contract, target_graph = _input_repair(
            finding, source_contract, repaired_contract, target_graph, pixels,
            input_fix if can_bake else "emit")
        if input_fix == "bake" and not can_bake:
            step["note"] = (f"a {fmt} target is written back weight by weight and cannot take "
                            "inserted input ops; the preprocessing is emitted instead")
        steps.append(step)
        if step.get("kept"):
            break  # one input fix: the contract stage's findings are alternatives
    # What the repaired model is fed from here on.
    t_in = target_graph.inputs()[0]
    fed_contract = repaired_contract.for_input(t_in["name"], t_in["shape"], "fed")
    x_fed = fed_contract.batch(pixels)
    unchanged_input = not any(s.get("kept") for s in steps)
    fed_out = (own_out if unchanged_input and own_out.shape == source_out.shape
               else run_ir(target_graph, x_fed))

    from convmend import _core

    chosen = _validation_indices(source_out, fed_out, validate)
    lap("input-contract stage")
    say(f"repair loop on {len(chosen)} validation images "
        f"({int(np.sum(source_out[chosen].argmax(1) != fed_out[chosen].argmax(1)))} disagreeing)")
    core = _core.repair(source_graph, target_graph, [x_source[chosen]], [x_fed[chosen]],
                        max_rounds=max_rounds, goal=GOAL_RELATIVE_ERROR,
                        restore_precision=restore_precision)
    repaired = core.pop("graph")
    for step in core["steps"]:
        step["stage"] = step.get("stage") or "core"
        steps.append(step)
    kept_core = [s for s in core["steps"] if s["kept"]]
    final_out = run_ir(repaired, x_fed) if kept_core else fed_out
    ir_after = {"relative_error": discrepancy(source_out, final_out),
                "disagreeing": disagreeing(source_out, final_out)}
    changed = bool(kept_core) or any(s.get("kept") for s in steps)
    needed = ir_before["disagreeing"] > 0 or ir_before["relative_error"] > GOAL_RELATIVE_ERROR
    lossy = [f for f in core["remaining"] if f["code"] == "param.declared_lossy"]
    if needed and not changed and lossy and not restore_precision and all(
            f["code"] in ("param.declared_lossy", "runtime.numeric") for f in core["remaining"]):
        ev = lossy[0].get("evidence", {})
        raise ConvmendError(
            f"{dst} differs from the source only by declared-lossy weights "
            f"({ev.get('quantized layers', 'quantized layers')}; "
            f"{ev.get('measured cost', 'cost measured in localize')}): nothing to repair; "
            "--restore-precision brings the source's float weights back; nothing written")
    if needed and not changed:
        reasons = "; ".join(f"{s['code']}: {s['reason']}" for s in steps[:6]) or \
            "localization found nothing with an edit to try"
        raise ConvmendError(f"{dst} could not be repaired: no edit improved agreement with "
                            f"the source ({reasons}); nothing written")

    lap("repair loop (localize, edits, validation)")
    say(f"writing {out}")
    written = _write(fmt, dst, out, original_graph, repaired, trust,
                     any(s.get("kept") and s.get("fix") != "emit" for s in steps))
    try:
        _write_sidecar(dst, out, repaired_contract)
    except BaseException:
        remove_model(out)
        raise

    lap("write")
    native = None
    if verify:
        say("verifying natively on every image")
        try:
            native = _native(src, {"target": dst, "repaired": out}, image_set)
        except ConvmendError as exc:
            native = {"error": str(exc)}
        lap("native verification (source, target, repaired file)")
    ok_native = False
    if native is not None and "disagreeing" in native.get("repaired", {}):
        native["goal"] = _native_goal(src, image_set, native["repaired"])
        ok_native = _agrees(native["repaired"], native["goal"])
    status = "repaired" if ok_native else (
        "not_verified" if native is None else "improved" if changed else "unchanged")
    if not needed and not changed:
        status = "already_faithful" if ok_native or native is None else status
    return {
        "schema": SCHEMA,
        "tool": f"convmend {__version__}",
        "seconds": round(time.perf_counter() - start, 2),
        "timings": timings,
        "status": status,
        "inputs": {
            "source": {"path": str(src), "format": model_format(src), "sha256": sha256_of(src),
                       "contract": source_contract.to_dict()},
            "target": {"path": str(dst), "format": model_format(dst), "sha256": sha256_of(dst),
                       "contract": target_contract.to_dict()},
        },
        "output": {"path": str(out), "format": fmt, "sha256": sha256_of(out),
                   "contract": repaired_contract.to_dict(), "written": written},
        "images": {"count": len(image_set), "variants": image_set.num_variants,
                   "ir": len(pixels), "validation": len(chosen)},
        "input_stage": in_evidence,
        "ir": {"before": ir_before, "after": ir_after, "rounds": core["rounds"],
               "stopped": core["stopped"], "validation_before": core["before"],
               "validation_after": core["after"]},
        "native": native,
        "steps": steps,
        "remaining": [f for f in core["remaining"]
                      if f["code"] not in ("runtime.numeric",)],
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    """What `convmend repair` prints."""
    lines = [f"source {report['inputs']['source']['path']} -> target "
             f"{report['inputs']['target']['path']}"]
    ir = report["ir"]
    if "error" in ir:
        lines.append(f"IR repair: {ir['error'][:200]}")
    else:
        lines.append(f"IR on {report['images']['ir']} images: disagreeing "
                     f"{ir['before']['disagreeing']} -> {ir['after']['disagreeing']}, output "
                     f"rel. error {ir['before']['relative_error']:.2g} -> "
                     f"{ir['after']['relative_error']:.2g} ({ir['rounds']} round(s); "
                     f"{ir['stopped']})")
    for s in report["steps"]:
        mark = "kept   " if s.get("kept") else "dropped"
        where = ""
        if s.get("target_nodes"):
            n = s["target_nodes"][0]
            where = f" {n.get('provenance', {}).get('name') or n.get('name', '')}"[:70]
        edits = "; ".join(s.get("edits", []))[:110]
        lines.append(f"  {mark} {s['code']:22}{where}: {edits}")
        if not s.get("kept"):
            lines.append(f"          {s.get('reason', '')[:120]}")
    native = report.get("native")
    if native and "error" in native:
        lines.append(f"native verification failed: {native['error']}")
    elif native:
        t, r = native["target"], native["repaired"]
        before = (f"{t['disagreeing']}" if "error" not in t else "n/a (target does not compare: "
                  + t["error"][:80] + ")")
        if "error" in r:
            lines.append(f"native verification of the repaired file failed: {r['error']}")
        else:
            rel = f"{t['max_relative_error']:.2g} -> " if "error" not in t else ""
            goal = native.get("goal", {})
            why = (f"; goal {goal['relative_error']:.2g}, 4x the source's own float32 error "
                   f"{goal['source_float32_error']:.2g}" if "source_float32_error" in goal
                   else "")
            lines.append(f"native runtimes, {report['images']['count']} images: disagreeing "
                         f"{before} -> {r['disagreeing']}, max rel. logit error "
                         f"{rel}{r['max_relative_error']:.2g}{why}")
    lines.append(f"status: {report['status']}; written {report['output']['path']}")
    return lines

