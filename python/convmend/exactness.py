"""Does convmend's interpreter reproduce a model's own runtime? Runs both on the same inputs
and compares the outputs and every intermediate tensor the native runtime exposes, by name
(the IR keeps the file's value names).

This is the check every importer must pass: a difference found later between two models
is only meaningful if each model's IR run matches its native run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |a - e| / max |e| over the tensor; the absolute difference when e is all zero."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if a.shape != e.shape:
        return float("inf")
    if e.size == 0:
        return 0.0
    scale = float(np.abs(e).max())
    diff = float(np.abs(a - e).max())
    return diff / scale if scale > 0 else diff


@dataclass
class TensorComparison:
    name: str
    worst_relative_error: float = 0.0
    worst_image: str = ""
    # With an exact (float64) run: on that image, how far each float32 run is from it.
    ours_vs_exact: float | None = None
    native_vs_exact: float | None = None


@dataclass
class ExactnessReport:
    model: str
    images: int = 0
    same_top1: int = 0
    output_relative_error: float = 0.0
    ir_values: int = 0            # float values the IR run produces
    compared: dict[str, TensorComparison] = field(default_factory=dict)
    # Each node run alone on the native runtime's own input values: the kernel's error,
    # without what upstream float32 rounding (in either runtime) propagates into it.
    isolated: dict[str, TensorComparison] = field(default_factory=dict)

    @property
    def worst_intermediate(self) -> TensorComparison | None:
        if not self.compared:
            return None
        return max(self.compared.values(), key=lambda c: c.worst_relative_error)

    @property
    def coverage(self) -> float:
        """Share of the IR's node outputs that had a native counterpart to check."""
        return len(self.compared) / self.ir_values if self.ir_values else 0.0

    @property
    def worst_isolated(self) -> TensorComparison | None:
        if not self.isolated:
            return None
        return max(self.isolated.values(), key=lambda c: c.worst_relative_error)

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst_intermediate
        isolated = self.worst_isolated
        return {"model": self.model, "images": self.images, "same_top1": self.same_top1,
                "output_relative_error": self.output_relative_error,
                "intermediates_compared": len(self.compared), "ir_values": self.ir_values,
                "coverage": self.coverage,
                "worst_intermediate": None if worst is None else
                {"name": worst.name, "relative_error": worst.worst_relative_error,
                 "image": worst.worst_image, "ours_vs_exact": worst.ours_vs_exact,
                 "native_vs_exact": worst.native_vs_exact},
                "nodes_checked_in_isolation": len(self.isolated),
                "worst_isolated": None if isolated is None else
                {"name": isolated.name, "relative_error": isolated.worst_relative_error,
                 "image": isolated.worst_image}}


def _record(table: dict[str, TensorComparison], name: str, err: float, image: str,
            ours_vs_exact: float | None = None, native_vs_exact: float | None = None) -> None:
    entry = table.setdefault(name, TensorComparison(name))
    if err > entry.worst_relative_error or not entry.worst_image:
        entry.worst_relative_error = err
        entry.worst_image = image
        entry.ours_vs_exact = ours_vs_exact
        entry.native_vs_exact = native_vs_exact


def compare_with_native(model: str | Path, inputs: Iterable[tuple[str, np.ndarray]],
                        intermediates: bool = True, exact: bool = False,
                        threads: int = 1, isolated: bool = True,
                        arbitrate: bool = True) -> ExactnessReport:
    """Run `model` in the IR and natively on each (name, batch-of-one array) input.

    With `arbitrate`, a float64 run of the same graph tells, for each compared tensor, which
    float32 run is closer to the exact arithmetic (`TensorComparison.ours_vs_exact`)."""
    from convmend import engine, runners

    graph = engine.load(model)
    interp = engine.Interpreter(graph, exact=exact, threads=threads)
    exact_interp = engine.Interpreter(graph, exact=True) if arbitrate and not exact else None
    native = runners.open_runner(Path(model))
    native_names: Sequence[str] = native.intermediate_names() if intermediates else []
    ir_names = {n for node in graph.nodes() for n in node["outputs"]}
    # Constants and what the interpreter folds from them (a dequantized weight): a node reading
    # them can be checked alone, and they are not computed values a runtime would show.
    constants = set(interp.constant_values())
    # Computed float values; a weight dequantized at load is not one (no runtime shows it).
    float_values = {v["name"] for v in graph.values()
                    if v["name"] in ir_names and v["name"] not in constants
                    and v["dtype"] in ("f32", "f64", "f16")}
    common = [n for n in native_names if n in float_values]
    report = ExactnessReport(model=str(model), ir_values=len(float_values))
    input_name = graph.inputs()[0]["name"]
    # Nodes whose every non-constant input and every float output the native runtime shows.
    checkable = [n for n in graph.nodes()
                 if n["outputs"] and all(o in common for o in n["outputs"])
                 and all(i is None or i in constants or i in common or i == input_name
                         for i in n["inputs"])]
    for image_name, x in inputs:
        if intermediates:
            outputs, traced = interp.run_traced([x], common)
            reference = native.run_with_intermediates(x, common)
        else:
            outputs, traced, reference = interp.run([x]), {}, {}
        native_out = native.run(x)[0]
        exact_values: dict[str, np.ndarray] = {}
        if exact_interp is not None and intermediates:
            _, exact_values = exact_interp.run_traced([x], common)
        report.images += 1
        report.same_top1 += int(np.argmax(outputs[0]) == np.argmax(native_out))
        report.output_relative_error = max(report.output_relative_error,
                                           relative_error(outputs[0], native_out))
        for name in common:
            if name not in traced or name not in reference:
                continue
            ref = reference[name]
            if ref.dtype.kind != "f":
                continue  # quantized raw integers are compared after dequantization elsewhere
            ours_exact = native_exact = None
            if name in exact_values:
                ours_exact = relative_error(traced[name], exact_values[name])
                native_exact = relative_error(ref, exact_values[name])
            _record(report.compared, name, relative_error(traced[name], ref), image_name,
                    ours_exact, native_exact)
        if not (intermediates and isolated):
            continue
        for node in checkable:
            feeds = {i: (x if i == input_name else reference[i])
                     for i in node["inputs"] if i is not None and i not in constants}
            outs = interp.run_node(node["outputs"][0], feeds)
            for name, out in zip(node["outputs"], outs, strict=True):
                _record(report.isolated, name, relative_error(out, reference[name]), image_name)
    return report
