"""Where and why a converted model differs from its source: the `convmend localize` job.

Two stages. The **input contract** is checked here, in Python, because it is about how
photos become tensors: the two models' contracts are compared field by field, the target's
IR is run fed by its own contract and fed by the source's pixels in its layout, and, when
neither agrees with the source, candidate transformations of the input (channel order,
scale, mean/std, layout reinterpretation) are probed on the target's IR to find the one
that restores agreement. The **parameter, hyperparameter and graph** stages, the
activation comparison and the causal confirmation are C++ (``convmend._core.localize``).
Findings of both are merged and ranked into one report (schema: docs/localize-report.md).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from convmend.errors import ConvmendError
from convmend.faults import BENIGN_CODES, stage_of

SCHEMA = "convmend.localize/1"
# Output discrepancy (max |a - b| / max |a|) under which two runs count as agreeing.
AGREE_TOLERANCE = 1e-3
# A contract difference is reported when the source's preprocessing cuts the discrepancy at
# least this much.
PROBE_GAIN = 4.0
# A probed input transformation must restore agreement: land under PROBE_RESTORE, or cut the
# discrepancy PROBE_RESTORE_GAIN times (a mid-network fault also moves with the input, so a
# merely smaller discrepancy proves nothing).
PROBE_RESTORE = 0.02
PROBE_RESTORE_GAIN = 50.0
# Candidate input transformations (about 13, each a run of the target) are screened on this
# many images first; the best is then run on every image of the stage. A wrong preprocessing
# moves every image's output, so a few images tell the candidates apart.
PROBE_SCREEN_IMAGES = 4
# localize decides the input stage on the first images only (an input fault shows on every
# image); the outputs over all images come from the C++ stage's runs, not from runs of their own.
INPUT_STAGE_IMAGES = 16
INPUT_OPS = ("Add", "Sub", "Mul", "Div", "Gather", "Transpose", "Neg", "Reshape")

_GRAPHS: dict[tuple[str, float, int], Any] = {}


def _load(path: Path, trust: bool) -> Any:
    """engine.load with a small cache for framework files: a Keras or torch source takes many
    seconds to walk, and one source often meets several targets. Graphs are not edited by
    localize."""
    from convmend import engine

    if path.suffix.lower() in engine.ENGINE_FORMATS and not path.is_dir():
        return engine.load(path, trust=trust)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime, stat.st_size)
    if key not in _GRAPHS:
        if len(_GRAPHS) >= 4:
            _GRAPHS.pop(next(iter(_GRAPHS)))
        _GRAPHS[key] = engine.load(path, trust=trust)
    return _GRAPHS[key]


# ---------------------------------------------------------------- running the IR


# Kernel threads of the analysis runs: every core, as the native runtimes compared use them.
ANALYSIS_THREADS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                       else os.cpu_count() or 1)


def run_ir(graph: Any, batch: np.ndarray) -> np.ndarray:
    """First output of the IR on a batch, (images, values) float64; image by image when the
    graph fixes its batch to 1."""
    from convmend import engine

    interp = engine.Interpreter(graph, threads=ANALYSIS_THREADS)
    fixed = graph.inputs()[0]["shape"][:1] == [1]
    if fixed and len(batch) > 1:
        parts = [np.asarray(interp.run([batch[i:i + 1]])[0]) for i in range(len(batch))]
        out = np.concatenate(parts)
    else:
        out = np.asarray(interp.run([batch])[0])
    return out.reshape(len(batch), -1).astype(np.float64)


def discrepancy(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |a| over the batch (inf when the shapes differ)."""
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max() / max(float(np.abs(a).max()), 1e-30))


def disagreeing(a: np.ndarray, b: np.ndarray) -> int:
    if a.shape != b.shape:
        return len(a)
    return int(np.sum(a.argmax(1) != b.argmax(1)))


# ---------------------------------------------------------------- input contract stage

SPEC_FIELDS = ("size", "crop", "method", "antialias", "scale", "mean", "std", "order", "layout")


def _layout_of_input(shape: Sequence[int], contract: Any) -> str:
    """The input's layout: what its shape shows, the contract's where the shape agrees."""
    from convmend.contract import layout_of

    return layout_of(shape, contract.spec.layout) if len(shape) == 4 else contract.spec.layout


def _perm(src_layout: str, dst_layout: str) -> list[int]:
    from convmend.preprocess import layout_permutation

    return [int(k) for k in layout_permutation(src_layout, dst_layout)]


def contract_diff(source: Any, target: Any) -> dict[str, dict[str, Any]]:
    """Fields of the two preprocessing specs that differ: {field: {source, target}}."""
    a, b = source.spec.to_dict(), target.spec.to_dict()
    return {k: {"source": a[k], "target": b[k]} for k in SPEC_FIELDS if a[k] != b[k]}


@dataclasses.dataclass
class Probe:
    """One candidate way of feeding the target, and how far it lands from the source."""

    name: str
    description: str
    discrepancy: float
    disagreeing: int
    spec: str | None = None


def _probe_specs(base: Any, shape: Sequence[int]) -> list[tuple[str, str, Any]]:
    """(name, description, spec) variants of the source's spec adapted to the target whose
    input has ``shape``."""
    from convmend.preprocess import CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD, LAYOUTS

    spec = base.spec
    swap = "bgr" if spec.order == "rgb" else "rgb"
    norms = {
        "scale [0,1]": dict(scale=1 / 255, mean=None, std=None),
        "scale [-1,1]": dict(scale=1 / 127.5, mean=(1.0,), std=None),
        "scale 0-255": dict(scale=1.0, mean=None, std=None),
        "ImageNet mean/std": dict(scale=1 / 255, mean=IMAGENET_MEAN, std=IMAGENET_STD),
        "caffe (BGR, mean subtracted)": dict(scale=1.0, mean=CAFFE_MEAN_BGR, std=None,
                                             order="bgr"),
    }
    out = [("channel order", f"channel order {spec.order} -> {swap}",
            dataclasses.replace(spec, order=swap))]
    for label, fields in norms.items():
        for order in ((fields.pop("order"),) if "order" in fields else (spec.order, swap)):
            cand = dataclasses.replace(spec, order=order, **fields)
            if cand == spec:
                continue
            name = label if order == spec.order else f"{label}, {order}"
            out.append((name, f"normalization {label}, order {order}", cand))
    if spec.mean is not None or spec.std is not None:
        out.append(("mean/std off", "mean and std not applied",
                    dataclasses.replace(spec, mean=None, std=None)))
    # Other layouts the input's shape allows: height and width swapped, channels elsewhere.
    for layout in LAYOUTS:
        cand = dataclasses.replace(spec, layout=layout)
        if layout != spec.layout and len(shape) == 4 and all(
                d is None or d <= 0 or d == want for d, want in zip(shape[1:], cand.input_shape,
                                                                  strict=True)):
            out.append((f"layout {layout}", f"images fed as {layout}", cand))
    return out


def _tensor_probes(x: np.ndarray, shape: Sequence[int]) -> list[tuple[str, str, np.ndarray]]:
    """Transformations of the source-preprocessed tensor itself (scales of the whole input
    and a layout reinterpretation: the same memory read in the other layout)."""
    out = [("x255", "input multiplied by 255", x * 255.0),
           ("div255", "input divided by 255", x / 255.0)]
    other = np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1) if x.shape[1] == 3
                                              else (0, 3, 1, 2)))
    if other.size == x.size:
        out.append(("layout reinterpreted", "the other layout's memory read as this layout",
                    other.reshape(x.shape)))
    return out


def input_contract_stage(source_graph: Any, target_graph: Any, source_contract: Any,
                         target_contract: Any, pixels: list[np.ndarray],
                         source_out: np.ndarray) -> tuple[list[dict[str, Any]], dict[str, Any],
                                                          np.ndarray, np.ndarray]:
    """Findings of the input stage, its evidence, the target's outputs fed by its own
    contract, and the source's pixels in the target's input layout (what the C++ stages
    compare on)."""
    t_in = target_graph.inputs()[0]
    s_in = source_graph.inputs()[0]
    adapted = source_for_target(source_contract, target_graph, target_contract)
    x_src_in_target = adapted.batch(pixels)
    own_batch = target_contract.batch(pixels)
    own_out = _run_own_contract(target_graph, own_batch)
    src_pix_out = (own_out if _same_batch(own_batch, x_src_in_target)
                   else run_ir(target_graph, x_src_in_target))
    d_own, d_src = discrepancy(source_out, own_out), discrepancy(source_out, src_pix_out)
    diff = contract_diff(source_contract, target_contract)
    s_layout = _layout_of_input(s_in["shape"], source_contract)
    t_layout = _layout_of_input(t_in["shape"], target_contract)
    evidence: dict[str, Any] = {
        "source_contract": source_contract.to_dict(),
        "target_contract": target_contract.to_dict(),
        "contract_differences": diff,
        "target_fed_own_contract": {"discrepancy": d_own,
                                    "disagreeing": disagreeing(source_out, own_out)},
        "target_fed_source_pixels": {"discrepancy": d_src,
                                     "disagreeing": disagreeing(source_out, src_pix_out)},
        "probes": [],
    }
    findings: list[dict[str, Any]] = []
    first_target = _first_nodes(target_graph)
    first_source = _first_nodes(source_graph)
    # input.layout: the input tensor itself changed layout or size.
    s_size = s_in["shape"][s_layout.index("h")]
    t_size = t_in["shape"][t_layout.index("h")]
    layout_changed = s_layout != t_layout or (s_size > 0 and t_size > 0 and s_size != t_size)
    handled = target_contract.spec.layout == t_layout
    from convmend.preprocess import STANDARD_LAYOUTS

    standard = {s_layout, t_layout} <= set(STANDARD_LAYOUTS)
    if layout_changed and handled and standard and (d_own <= AGREE_TOLERANCE or (
            s_size == t_size and _same_batch(own_batch, x_src_in_target))):
        # NCHW -> NHWC that the target's contract feeds, and whose outputs agree or whose
        # contract feeds the source's very pixels (a difference is then inside the model):
        # what the converter is meant to do, not a fault.
        evidence["layout_change"] = {"source": f"{s_in['shape']} ({s_layout})",
                                     "target": f"{t_in['shape']} ({t_layout})",
                                     "note": "handled by the target's contract"
                                             + ("; outputs agree" if d_own <= AGREE_TOLERANCE
                                                else "; it feeds the source's pixels")}
    elif layout_changed:
        perm = _perm(s_layout, t_layout)
        findings.append(_finding(
            "input.layout", first_target, first_source,
            {"source_input": f"{s_in['name']} {s_in['shape']} ({s_layout})",
             "target_input": f"{t_in['name']} {t_in['shape']} ({t_layout})",
             "permutation": str(perm),
             "target_contract_layout": target_contract.spec.layout,
             "note": ("the target takes its images with height and width swapped or the "
                      "channels between them: a converter read the source's layout as "
                      "another (onnx2tf reads every 4-D input as NCHW); its contract feeds "
                      "that layout, a pipeline made for the source's does not fit"
                      if handled and not standard else
                      "the target's contract feeds the new layout" if handled else
                      "the target's contract does not match its input layout")},
            confirmed=d_src <= AGREE_TOLERANCE, before=d_own, after=d_src,
            dis_before=evidence["target_fed_own_contract"]["disagreeing"],
            dis_after=evidence["target_fed_source_pixels"]["disagreeing"],
            confidence=0.95 if s_layout != t_layout else 0.9,
            patch={"kind": "transpose_input", "permutation": perm}))
    normalization_diff = {k: v for k, v in diff.items() if k not in ("layout",)}
    if normalization_diff and d_src < d_own / PROBE_GAIN + 1e-12 and d_own > AGREE_TOLERANCE:
        findings.append(_finding(
            "input.preprocess", first_target, first_source,
            {"differences": "; ".join(f"{k}: source {v['source']} vs target {v['target']}"
                                      for k, v in normalization_diff.items()),
             "transformation": "adopt the source's preprocessing: "
                               + adapted.spec.to_string(),
             "discrepancy_own_contract": f"{d_own:.3g}",
             "discrepancy_source_preprocessing": f"{d_src:.3g}"},
            confirmed=True, before=d_own, after=d_src,
            dis_before=evidence["target_fed_own_contract"]["disagreeing"],
            dis_after=evidence["target_fed_source_pixels"]["disagreeing"],
            confidence=0.97 if d_src <= AGREE_TOLERANCE else 0.85,
            patch={"kind": "preprocess", "spec": adapted.spec.to_string()}))
    elif d_src > AGREE_TOLERANCE and d_own > AGREE_TOLERANCE:
        # Neither contract works: look for the input transformation that does. Every
        # candidate is screened on a few images; only the best is run on all of them (a
        # fault inside the model makes every candidate fail, and each is a whole IR run).
        screen = list(range(min(len(pixels), PROBE_SCREEN_IMAGES)))
        # Each candidate: its probe and the batch it feeds for a list of image indices.
        candidates: list[tuple[Probe, Callable[[list[int]], np.ndarray]]] = []
        for name, text, spec in _probe_specs(adapted, t_in["shape"]):
            candidates.append((Probe(name, text, 0.0, 0, spec.to_string()),
                               lambda idx, spec=spec: spec.apply_batch([pixels[i] for i in idx])))
        for name, text, x in _tensor_probes(x_src_in_target, t_in["shape"]):
            candidates.append((Probe(name, text, 0.0, 0),
                               lambda idx, x=x: x[idx].astype(np.float32)))
        feeds = {probe.name: feed for probe, feed in candidates}
        probes = []
        for probe, feed in candidates:
            out = run_ir(target_graph, feed(screen))
            probes.append(dataclasses.replace(
                probe, discrepancy=discrepancy(source_out[screen], out),
                disagreeing=disagreeing(source_out[screen], out)))
        probes.sort(key=lambda p: (p.disagreeing, p.discrepancy))
        evidence["probes"] = [dict(dataclasses.asdict(p), images=len(screen)) for p in probes]
        best = probes[0] if probes else None
        d_screen = discrepancy(source_out[screen], src_pix_out[screen])
        if best is not None and best.discrepancy * PROBE_GAIN < d_screen:
            out = run_ir(target_graph, feeds[best.name](list(range(len(pixels)))))
            best = dataclasses.replace(best, discrepancy=discrepancy(source_out, out),
                                       disagreeing=disagreeing(source_out, out))
            evidence["best_probe_on_all_images"] = dataclasses.asdict(best)
        else:
            best = None
        if best is not None and best.discrepancy * PROBE_GAIN < d_src and (
                best.discrepancy <= PROBE_RESTORE
                or best.discrepancy * PROBE_RESTORE_GAIN < d_src):
            code = "input.layout" if best.name.startswith("layout") else "input.preprocess"
            findings.append(_finding(
                code, first_target, first_source,
                {"transformation": best.description,
                 "spec": best.spec or "",
                 "discrepancy_source_preprocessing": f"{d_src:.3g}",
                 "discrepancy_with_transformation": f"{best.discrepancy:.3g}",
                 "runner_up": (f"{probes[1].description} ({probes[1].discrepancy:.3g})"
                               if len(probes) > 1 else "")},
                confirmed=best.discrepancy <= max(AGREE_TOLERANCE, d_src / 100),
                before=d_src, after=best.discrepancy,
                dis_before=evidence["target_fed_source_pixels"]["disagreeing"],
                dis_after=best.disagreeing,
                confidence=0.9 if best.discrepancy <= AGREE_TOLERANCE else 0.7,
                patch={"kind": "input_transform", "name": best.name, "spec": best.spec}))
    return findings, evidence, own_out, x_src_in_target


def _run_own_contract(target_graph: Any, own_batch: np.ndarray) -> np.ndarray:
    """The target's outputs on the batch its own contract makes; NaN when that batch does not
    even fit the target's input (the recorded contract has the wrong layout)."""
    try:
        return run_ir(target_graph, own_batch)
    except ConvmendError:
        return np.full((len(own_batch), 1), np.nan)


def _same_batch(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b)


def source_for_target(source_contract: Any, target_graph: Any,
                      target_contract: Any = None) -> Any:
    """The source's preprocessing, fitted to the target's input (its layout and name; the
    layout of ``target_contract`` where the input's shape agrees with it)."""
    t_in = target_graph.inputs()[0]
    return source_contract.for_input(
        t_in["name"], t_in["shape"], "source contract adapted to the target input",
        layout=target_contract.spec.layout if target_contract is not None else None)


def _first_nodes(graph: Any) -> list[dict[str, Any]]:
    """The node(s) reading the graph input, as finding node references."""
    name = graph.inputs()[0]["name"]
    return [_node_ref(n) for n in graph.nodes() if name in n["inputs"]][:2]


def _node_ref(n: dict[str, Any]) -> dict[str, Any]:
    p = n["provenance"]
    return {"id": n["id"], "name": n["name"], "op": n["op"],
            "provenance": {"format": p["format"], "name": p["name"], "op_type": p["op_type"]}}


def _finding(code: str, target_nodes: list[dict[str, Any]], source_nodes: list[dict[str, Any]],
             evidence: dict[str, Any], *, confirmed: bool, before: float, after: float,
             dis_before: int, dis_after: int, confidence: float,
             patch: dict[str, Any] | None) -> dict[str, Any]:
    return {"code": code, "stage": stage_of(code), "target_nodes": target_nodes,
            "source_nodes": source_nodes,
            "evidence": {k: str(v) for k, v in evidence.items()},
            "confirmed": bool(confirmed), "discrepancy_before": before,
            "discrepancy_after_patch": after, "disagreeing_before": dis_before,
            "disagreeing_after_patch": dis_after, "confidence": float(confidence),
            "patch": patch, "origin": "input-contract stage"}


# ---------------------------------------------------------------- C++ stages


def core_available() -> bool:
    from convmend import _core

    return hasattr(_core, "localize")


def core_stage(source_graph: Any, target_graph: Any, x_source: np.ndarray,
               x_target: np.ndarray, confirm: bool) -> dict[str, Any]:
    """``_core.localize`` when it is built; otherwise the alignment and a per-layer curve of
    propagated errors computed here, with no findings."""
    from convmend import _core

    if hasattr(_core, "localize"):
        result = _core.localize(source_graph, target_graph, [x_source], [x_target],
                                None, confirm)
        for f in result.get("findings", []):
            f.setdefault("origin", "core")
            for key in ("discrepancy_after_patch", "disagreeing_after_patch"):
                if f.get(key) is not None and f[key] < 0:  # the C++ side's "no patch"
                    f[key] = None
        result["available"] = True
        return result
    alignment = _core.align(source_graph, target_graph)
    return {"alignment": alignment, "findings": [],
            "errors": propagated_errors(source_graph, target_graph, alignment, x_source,
                                        x_target),
            "available": False}


def _traced(graph: Any, batch: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    from convmend import engine

    interp = engine.Interpreter(graph, threads=ANALYSIS_THREADS)
    fixed = graph.inputs()[0]["shape"][:1] == [1]
    rows = [batch[i:i + 1] for i in range(len(batch))] if fixed else [batch]
    collected: dict[str, list[np.ndarray]] = {}
    for row in rows:
        _, traced = interp.run_traced([row], names)
        for k, v in traced.items():
            collected.setdefault(k, []).append(np.asarray(v))
    return {k: np.concatenate(v) for k, v in collected.items()}


def propagated_errors(source_graph: Any, target_graph: Any, alignment: dict[str, Any],
                      x_source: np.ndarray, x_target: np.ndarray) -> list[dict[str, Any]]:
    """Relative error at each aligned comparison point, both models fed the same pixels
    (the propagated error; the isolated one needs the C++ stage)."""
    matches = alignment.get("matches", [])
    s_names = [m["comparison"]["source_value"]["name"] for m in matches]
    t_names = [m["comparison"]["target_value"]["name"] for m in matches]
    s_vals = _traced(source_graph, x_source, s_names)
    t_vals = _traced(target_graph, x_target, t_names)
    rows = []
    for k, m in enumerate(matches):
        comp = m["comparison"]
        a, b = s_vals.get(comp["source_value"]["name"]), t_vals.get(comp["target_value"]["name"])
        err = None
        if a is not None and b is not None:
            if comp["transform"] == "permute" and comp.get("permutation"):
                a = np.transpose(a, comp["permutation"])
            if comp["transform"] != "incomparable" and a.size == b.size:
                a, b = a.reshape(b.shape).astype(np.float64), b.astype(np.float64)
                err = float(np.abs(a - b).max() / max(float(np.abs(a).max()), 1e-30))
        rows.append({"match": k, "source_value": comp["source_value"]["name"],
                     "target_value": comp["target_value"]["name"], "propagated": err,
                     "isolated": None, "tolerance": None,
                     "op_class": (m["target_nodes"] or m["source_nodes"] or [{}])[-1].get("class")})
    return rows


# ---------------------------------------------------------------- merging and ranking


def _relabel_input_ops(findings: list[dict[str, Any]], target_graph: Any) -> None:
    """An extra elementwise op or channel gather right at the target's input is a
    normalization baked into the model: report it as input.preprocess."""
    name = target_graph.inputs()[0]["name"]
    readers = {n["name"] for n in target_graph.nodes() if name in n["inputs"]}
    for f in findings:
        if f["code"] != "graph.extra_op":
            continue
        nodes = f.get("target_nodes", [])
        if nodes and nodes[0]["name"] in readers and nodes[0]["op"] in INPUT_OPS:
            f["evidence"] = {**f.get("evidence", {}),
                             "relabelled": "graph.extra_op at the model input: the model "
                                           "changes its input's normalization"}
            f["code"], f["stage"] = "input.preprocess", "input"


def rank(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Faults before benign findings, confirmed before unconfirmed, then by how much of the
    discrepancy the patch removes times the confidence; ties keep their order."""

    def gain(f: dict[str, Any]) -> float:
        before, after = f.get("discrepancy_before"), f.get("discrepancy_after_patch")
        if before is None or after is None or not before or not np.isfinite(before):
            return 0.5
        return float(np.clip(1.0 - after / before, 0.0, 1.0))

    keyed = [(f["code"] in BENIGN_CODES, not f.get("confirmed", False),
              -(float(f.get("confidence", 0.0)) * (0.5 + gain(f))), i, f)
             for i, f in enumerate(findings)]
    ordered = [k[-1] for k in sorted(keyed, key=lambda k: k[:4])]
    for i, f in enumerate(ordered, 1):
        f["rank"] = i
    return ordered


# ---------------------------------------------------------------- the job


def _image_set(images: Any, count: int | None) -> Any:
    from convmend import images as imgs

    if images is None:
        return imgs.default_images(count)
    if isinstance(images, imgs.ImageSet):
        return imgs.fit_to_count(list(images), count) if count else images
    return imgs.load_image_dir(images, count=count)


def _label_table(image_set: Any, source_out: np.ndarray, target_out: np.ndarray,
                 native: dict[str, np.ndarray] | None) -> dict[str, Any]:
    rows = []
    for k, item in enumerate(image_set):
        row = {"image": item.name, "label": item.label,
               "source_top1": int(source_out[k].argmax()),
               "target_top1": int(target_out[k].argmax())}
        row["agree"] = row["source_top1"] == row["target_top1"]
        if native is not None:
            row["native_source_top1"] = int(native["source"][k].argmax())
            row["native_target_top1"] = int(native["target"][k].argmax())
            row["native_agree"] = row["native_source_top1"] == row["native_target_top1"]
        rows.append(row)
    n = len(rows)
    summary = {"images": n, "ir_disagreeing": sum(not r["agree"] for r in rows),
               "ir_disagreement_percent": round(100.0 * sum(not r["agree"] for r in rows) / n, 2),
               "ir_discrepancy": discrepancy(source_out, target_out)
               if source_out.shape == target_out.shape else None}
    if native is not None:
        summary["native_disagreeing"] = sum(not r["native_agree"] for r in rows)
        summary["native_disagreement_percent"] = round(
            100.0 * summary["native_disagreeing"] / n, 2)
    return {"summary": summary, "images": rows}


def load_pair(src: Path, dst: Path, pixels: list[np.ndarray], trust: bool,
              source_preprocess: str | None, target_preprocess: str | None, job: str,
              say: Callable[[str], None], run_images: int | None = None,
              ) -> tuple[Any, Any, Any, Any, np.ndarray, np.ndarray]:
    """Both graphs (one image input each), their contracts (the source's fitted to its
    input), the source's batch and the source IR's outputs on its first ``run_images`` images
    (all by default)."""
    from convmend.contract import contract_of

    say(f"loading {src.name} and {dst.name}")
    source_graph = _load(src, trust)
    target_graph = _load(dst, trust)
    for g, p in ((source_graph, src), (target_graph, dst)):
        if len(g.inputs()) != 1:
            raise ConvmendError(f"{p} has {len(g.inputs())} inputs; {job} feeds one image input")
    source_contract = contract_of(src, override=source_preprocess)
    target_contract = contract_of(dst, override=target_preprocess)
    s_in = source_graph.inputs()[0]
    source_contract = source_contract.for_input(s_in["name"], s_in["shape"],
                                                source_contract.origin)
    x_source = source_contract.batch(pixels)
    run = len(pixels) if run_images is None else min(run_images, len(pixels))
    say(f"running the source IR on {run} images")
    return (source_graph, target_graph, source_contract, target_contract, x_source,
            run_ir(source_graph, x_source[:run]))


def localize(src: str | Path, dst: str | Path, images: Any = None, count: int | None = None,
             trust: bool = False, confirm: bool = True, native: bool = False,
             source_preprocess: str | None = None, target_preprocess: str | None = None,
             log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Localize what converting ``src`` into ``dst`` broke; the report document.

    ``images``: None (the packaged images), a folder or an ``ImageSet``; ``count`` images
    (variants fill up). ``native`` also runs both models in their own runtimes for the label
    table. The ``*_preprocess`` overrides replace a model's recorded contract."""
    from convmend import __version__
    from convmend.convert.check import model_format
    from convmend.fileio import sha256_of

    say = log or (lambda line: None)
    start = time.perf_counter()
    src, dst = Path(src), Path(dst)
    for p in (src, dst):
        if not p.exists():
            raise ConvmendError(f"model file not found: {p}")
    image_set = _image_set(images, count)
    pixels = image_set.load_all()
    # With the C++ stage, the input stage runs on the first images and the outputs over all
    # of them come from the C++ stage's own runs (each whole-batch IR run costs about what a
    # native run of the model does).
    screen = min(len(pixels), INPUT_STAGE_IMAGES) if core_available() else len(pixels)
    source_graph, target_graph, source_contract, target_contract, x_source, source_screen = \
        load_pair(src, dst, pixels, trust, source_preprocess, target_preprocess, "localize", say,
                  run_images=screen)
    say("input-contract stage" + (f" (on the first {screen} images)"
                                  if screen < len(pixels) else ""))
    in_findings, in_evidence, own_screen, _ = input_contract_stage(
        source_graph, target_graph, source_contract, target_contract, pixels[:screen],
        source_screen)
    in_evidence["images"] = screen
    x_target = source_for_target(source_contract, target_graph, target_contract).batch(pixels)
    say("parameter, hyperparameter and graph stages"
        + ("" if core_available() else " (C++ localize not built: alignment and curve only)"))
    core = core_stage(source_graph, target_graph, x_source, x_target, confirm)
    source_out, target_out = _outputs_on_all_images(
        core, source_screen, own_screen, target_graph, target_contract, pixels, x_target,
        in_evidence)
    core_findings = list(core.get("findings", []))
    _relabel_input_ops(core_findings, target_graph)
    findings, suppressed = split_on_agreement(rank(in_findings + core_findings), source_out,
                                              target_out)
    native_out = None
    if native:
        from convmend.diff import run_side

        say("running both models natively")
        native_out = {"source": run_side(src, image_set, source_preprocess).outputs,
                      "target": run_side(dst, image_set, target_preprocess).outputs}
    return {
        "schema": SCHEMA,
        "tool": f"convmend {__version__}",
        "seconds": round(time.perf_counter() - start, 2),
        "inputs": {
            "source": {"path": str(src), "format": model_format(src), "sha256": sha256_of(src),
                       "contract": source_contract.to_dict()},
            "target": {"path": str(dst), "format": model_format(dst), "sha256": sha256_of(dst),
                       "contract": target_contract.to_dict()},
        },
        "images": {"count": len(image_set), "variants": image_set.num_variants,
                   "names": image_set.names},
        "labels": _label_table(image_set, source_out, target_out, native_out),
        "core": {"available": core["available"], "confirm": confirm},
        "input_stage": in_evidence,
        "alignment": core.get("alignment"),
        "findings": findings,
        "suppressed": suppressed,
        "errors": core.get("errors", []),
    }


def _outputs_on_all_images(core: dict[str, Any], source_screen: np.ndarray,
                           own_screen: np.ndarray, target_graph: Any, target_contract: Any,
                           pixels: list[np.ndarray], x_target: np.ndarray,
                           in_evidence: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The source's outputs and the target's (fed its own contract) on every image: the
    screened runs when they covered every image, else the C++ stage's runs (plus one run of
    the target when its own contract feeds it other pixels than the source's). The input
    stage's two whole-batch measures are restated on every image."""
    if len(source_screen) == len(pixels) or not core.get("source_outputs"):
        return source_screen, own_screen
    def first(outputs: list[np.ndarray]) -> np.ndarray:  # as run_ir gives it
        return np.asarray(outputs[0]).reshape(len(pixels), -1).astype(np.float64)

    source_out = first(core["source_outputs"])
    fed_source_pixels = first(core["target_outputs"])
    own_batch = target_contract.batch(pixels)
    own_out = (fed_source_pixels if _same_batch(own_batch, x_target)
               else _run_own_contract(target_graph, own_batch))
    for key, out in (("target_fed_own_contract", own_out),
                     ("target_fed_source_pixels", fed_source_pixels)):
        in_evidence[key] = {"discrepancy": discrepancy(source_out, out),
                            "disagreeing": disagreeing(source_out, out)}
    return source_out, own_out


# Outputs within this relative error (and no image whose top-1 differs) agree: float32 noise.
OUTPUTS_AGREE = 1e-4
BENIGN = ("runtime.numeric", "param.declared_lossy")


def split_on_agreement(findings: list[dict[str, Any]], source_out: np.ndarray,
                       target_out: np.ndarray) -> tuple[list[dict[str, Any]],
                                                        list[dict[str, Any]]]:
    """When the target agrees with the source on every image, a suspicion no experiment
    confirmed is not a fault the user has: it is kept apart (``suppressed``, with the reason)
    instead of being listed among the findings. Confirmed findings and the benign codes stay."""
    if target_out.shape != source_out.shape or disagreeing(source_out, target_out) > 0 or \
            discrepancy(source_out, target_out) > OUTPUTS_AGREE:
        return findings, []
    kept, apart = [], []
    for f in findings:
        if f["confirmed"] or f["code"] in BENIGN:
            kept.append(f)
        else:
            apart.append(dict(f, suppressed="the outputs agree on every image (relative error "
                                            f"<= {OUTPUTS_AGREE:g}); not confirmed"))
    for i, f in enumerate(kept, 1):
        f["rank"] = i
    return kept, apart


# ---------------------------------------------------------------- terminal


def _who(nodes: list[dict[str, Any]]) -> str:
    if not nodes:
        return "-"
    n = nodes[0]
    prov = n.get("provenance", {})
    name = prov.get("name") or n.get("name", "?")
    if len(name) > 60:
        name = name.split(";")[0][:57] + "..."
    more = f" (+{len(nodes) - 1})" if len(nodes) > 1 else ""
    return f"{name} [{prov.get('op_type') or n.get('op', '?')}]{more}"


def summary_lines(report: dict[str, Any], limit: int = 15) -> list[str]:
    """What `convmend localize` prints: the label disagreement and one line per finding."""
    lab = report["labels"]["summary"]
    lines = [f"source {report['inputs']['source']['path']} -> target "
             f"{report['inputs']['target']['path']}",
             f"{lab['images']} images: top-1 differs on {lab['ir_disagreeing']} in the IR"
             + (f", {lab['native_disagreeing']} natively" if "native_disagreeing" in lab else "")]
    if not report["core"]["available"]:
        lines.append("note: convmend._core.localize is not built; parameter, hyperparameter "
                     "and graph findings are missing (alignment and error curve only)")
    findings = report["findings"]
    if not findings:
        lines.append("no findings")
    for f in findings[:limit]:
        mark = "confirmed" if f.get("confirmed") else "suspected"
        after = f.get("discrepancy_after_patch")
        before = f.get("discrepancy_before")
        effect = ""
        if before is not None and after is not None:
            effect = f" discrepancy {before:.2g} -> {after:.2g}"
        lines.append(f"#{f['rank']:<2} {f['code']:22} {mark:9} {f.get('confidence', 0):.2f} "
                     f"target {_who(f.get('target_nodes', []))} <- source "
                     f"{_who(f.get('source_nodes', []))}{effect}")
    if len(findings) > limit:
        rest = collections.Counter(f["code"] for f in findings[limit:])
        lines.append(f"... and {len(findings) - limit} more ("
                     + ", ".join(f"{n} {code}" for code, n in rest.most_common())
                     + "); all are in the JSON report")
    apart = report.get("suppressed", [])
    if apart:
        codes = collections.Counter(f["code"] for f in apart)
        lines.append(f"{len(apart)} unconfirmed suspicion(s) kept apart because the outputs "
                     "agree (" + ", ".join(f"{n} {code}" for code, n in codes.most_common())
                     + "); see \"suppressed\" in the JSON report")
    return lines
