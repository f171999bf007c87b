"""The conversion matrix: every (model, source framework, target framework) cell through
every registered chain, each converted, loaded and compared with its source natively.

Work units are (model, source, chain). Each runs its conversions in subprocesses (see
``convert.execute``) and its diff in a ``convmend diff`` subprocess, so that a crash or a
leak in one framework cannot take the matrix down. Units run in parallel threads, each
driving its own processes; a finished unit is recorded in the cache and reused by a rerun.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from convmend.convert import execute, registry
from convmend.diff import faithful_bound
from convmend.errors import ConvmendError
from convmend.fileio import write_bytes_atomically, write_json

SOURCES = ("torch", "keras", "tf", "tflite")
TARGETS = registry.FORMATS
UNIT_VERSION = 1
DIFF_TIMEOUT = 1800.0
# A cell is faithful when no image changes its top-1 and the relative logit error is within
# diff.faithful_bound of the source's own float32 error.


@dataclasses.dataclass(frozen=True)
class Unit:
    model: str
    source: str
    target: str
    chain: registry.Chain

    @property
    def name(self) -> str:
        return f"{self.model} {self.source}->{self.target}: {registry.chain_name(self.chain)}"


def plan(models: Sequence[str], sources: Sequence[str], targets: Sequence[str],
         all_chains: bool = True, max_steps: int = 2) -> list[Unit]:
    units = []
    for model in models:
        for src in sources:
            for dst in targets:
                found = registry.preferred_chains(src, dst, max_steps)
                for chain in found if all_chains else found[:1]:
                    units.append(Unit(model, src, dst, chain))
    return units


def _unit_key(unit: Unit, source_sha: str, images: int) -> dict[str, Any]:
    return {"version": UNIT_VERSION, "record": execute.RECORD_VERSION, "model": unit.model,
            "source": unit.source, "target": unit.target, "chain": registry.chain_name(unit.chain),
            "versions": {c.name: c.versions() for c in unit.chain},
            "source_sha256": source_sha, "images": images}


def _cached_record(unit: Unit, images: int) -> dict[str, Any] | None:
    """A finished record of this unit for any source hash (used when reporting only)."""
    folder = execute.cache_root().parent / "matrix"
    chain = registry.chain_name(unit.chain)
    for record in sorted(folder.glob(f"{unit.model}-{unit.source}-{unit.target}-*.json")):
        if record.name.endswith(".diff.json"):
            continue
        try:
            saved = json.loads(record.read_text())
        except ValueError:
            continue
        key = saved.get("key", {})
        if key.get("chain") == chain and key.get("images") == images and \
                key.get("record") == execute.RECORD_VERSION:
            return dict(saved["result"], cached=True)
    return None


def _record_path(key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    folder = execute.cache_root().parent / "matrix"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key['model']}-{key['source']}-{key['target']}-{digest}.json"


class _Sources:
    """Zoo source models, their probes and cached native outputs, made once per model."""

    def __init__(self, timeout: float, memory_gb: float) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._paths: dict[str, dict[str, Path]] = {}
        self._probes: dict[Path, dict[str, Any]] = {}
        self.timeout, self.memory_gb = timeout, memory_gb

    def _model_lock(self, model: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(model, threading.Lock())

    def path(self, model: str, source: str) -> Path:
        from convmend.zoo import build

        with self._model_lock(model):
            if model not in self._paths:
                self._paths[model] = build.source_models(model)
            return self._paths[model][source]

    def probe(self, path: Path) -> dict[str, Any]:
        with self._model_lock(str(path)):
            if path not in self._probes:
                self._probes[path] = execute.probe_model(path, memory_gb=self.memory_gb)
            return self._probes[path]

    def float32_error(self, path: Path, images: int, outputs: Path) -> float:
        """The source's own float32 error on the matrix images (``diff.float32_error``),
        measured once per source file and image count in a process of its own."""
        with self._model_lock(f"float32 {path}"):
            saved = _float32_error_path(path, images)
            measured = _read_float32_error(saved)
            if measured is not None:
                return measured
            command = [sys.executable, "-m", "convmend.diff", "float32-error", str(path),
                       str(images), str(outputs), str(saved)]
            proc = execute.run_process(command, DIFF_TIMEOUT, self.memory_gb)
            measured = _read_float32_error(saved) if proc.returncode == 0 else None
            if measured is not None:
                return measured
            lines = [line for line in (proc.stderr or "").splitlines() if line.strip()]
            raise ConvmendError("measuring the source's float32 error failed: " + (
                lines[-1] if lines else f"exit {proc.returncode}"))


def _float32_error_path(source: Path, images: int) -> Path:
    sha = execute._source_identity(source)
    return execute.cache_root().parent / "matrix" / f"{sha[:16]}-float32-error-{images}.json"


def _read_float32_error(saved: Path) -> float | None:
    """A float32 error measured before (``python -m convmend.diff float32-error``)."""
    try:
        return float(json.loads(saved.read_text())["float32_error"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _reclassify_earlier(cell: dict[str, Any], rounding: Any) -> dict[str, Any]:
    """An earlier cell that missed the fixed bound (outcome ``disagrees``, written before the
    bound scaled with the source's rounding), classified again; other cells as they are."""
    if cell["outcome"] == "disagrees" and "diff" in cell:
        classify(cell, False, rounding)
    return cell


def classify(result: dict[str, Any], lossy: bool, rounding: Any = None) -> None:
    """Sets ``result["outcome"]`` from its diff. ``rounding()`` gives the source's own float32
    error; it is asked for only when the cell changes no label and misses 1e-4."""
    summary = result["diff"]
    error, changed = summary["max_relative_error"], summary["disagreeing_images"]
    bound = faithful_bound(None)
    if changed == 0 and error > bound and not lossy and rounding is not None:
        try:
            own = rounding()
            result["source_float32_error"] = own
            bound = faithful_bound(own)
        except ConvmendError as exc:
            result["bound_error"] = str(exc)
    result["faithful_bound"] = bound
    result["outcome"] = "faithful" if changed == 0 and error <= bound else (
        "declared_lossy" if lossy else "disagrees")


def _diff(source: Path, target: Path, images: int, source_outputs: Path, json_out: Path,
          memory_gb: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "convmend.cli", "diff", str(source), str(target),
               "--count", str(images), "--json", str(json_out), "--quiet",
               "--source-outputs", str(source_outputs), "--threads", "1"]
    proc = execute.run_process(command, DIFF_TIMEOUT, memory_gb)
    if proc.returncode == 0 and json_out.exists():
        return json.loads(json_out.read_text())
    if proc.returncode is None:
        raise ConvmendError(f"diff timed out after {DIFF_TIMEOUT:.0f}s")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    raise ConvmendError(lines[-1] if lines else f"diff exited {proc.returncode}")


class Earlier:
    """Finished cells of matrix documents written before (``--with``), taken for units that
    have no record in this machine's cache, so that a table can grow across machines. A cell
    is taken only when it was made with as many images and with the same converter versions
    as this installation has, from a source of the same zoo recipe; a cell that was not run,
    or whose model did not take the source's images, is never taken."""

    def __init__(self, paths: Sequence[str | Path] = ()) -> None:
        self.cells: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        versions = {c.name: c.versions() for c in registry.converters()}
        for path in paths:
            try:
                document = json.loads(Path(path).read_text())
                cells, made_with = document["cells"], document["converters"]
                images = document["images"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ConvmendError(f"cannot read the matrix document {path}: {exc}") from None
            then = {c["name"]: c.get("versions") for c in made_with if isinstance(c, dict)}
            for cell in cells:
                names = [s.strip() for s in cell.get("chain", "").split(">")]
                # input_mismatch is redone: its conversions are cached, and the layouts convmend
                # can feed have grown (onnx2tf's NWCH inputs). A load that ran out of time
                # says how busy that machine was, not what the converter made. A cell that
                # does not say which zoo recipe its source came from may be of an older zoo.
                if cell.get("outcome") in (None, "not_run", "input_mismatch") or any(
                        then.get(n) != versions.get(n) for n in names) or \
                        execute.load_timed_out(cell) or \
                        not isinstance(cell.get("source_recipe"), dict):
                    continue
                key = (cell["model"], cell["source"], cell["target"], cell["chain"])
                self.cells.setdefault(key, dict(cell, images=images, earlier=str(path)))

    def find(self, unit: Unit, images: int, recipe: dict[str, Any] | None) -> dict[str, Any] | None:
        """The earlier cell of ``unit``, if made from a source built by the same zoo recipe
        (``recipe``, the zoo record's key: model, recipe number, task, package versions;
        None when reporting without a source at hand). Cells written before the recipe was
        recorded are never taken: the MobileNetV2 TF-source int8 cells of such a document
        came from an older zoo (every image agreeing, where this zoo's model changes half)."""
        cell = self.cells.get((unit.model, unit.source, unit.target,
                               registry.chain_name(unit.chain)))
        if cell is None or cell["images"] != images:
            return None
        if recipe is not None and not _same_recipe(cell["source_recipe"], recipe):
            return None
        return {k: v for k, v in cell.items() if k != "images"} | {"cached": True}


def _same_recipe(then: Any, now: dict[str, Any]) -> bool:
    """Whether two zoo record keys name the same build. The hash of the file a source was
    derived from is left out: a Keras file holds its save date (and HDF5 times), so the
    SavedModel and TFLite sources built from the same seeded Keras model name a different
    parent hash on every machine; model, recipe number, task and package versions decide."""
    if not isinstance(then, dict):
        return False
    return ({k: v for k, v in then.items() if k != "source_sha256"}
            == {k: v for k, v in now.items() if k != "source_sha256"})


def _recipe(source: Path) -> dict[str, Any] | None:
    """The zoo record's key of a source model (how it was built), when it has one."""
    try:
        return json.loads(Path(str(source) + ".json").read_text()).get("key")
    except (OSError, ValueError, AttributeError):
        return None


def run_unit(unit: Unit, sources: _Sources, images: int, reuse: bool = True,
             cached_only: bool = False, earlier: Earlier | None = None) -> dict[str, Any]:
    """Convert through the chain, then diff the result against the source natively.
    ``cached_only`` reports a unit without a finished record as not run; ``earlier`` supplies
    finished cells of earlier documents for units this cache has no record of."""
    if cached_only:
        found = _cached_record(unit, images)
        if found is None and earlier is not None:
            found = earlier.find(unit, images, None)
            where = found.get("source_path") if found else None
            measured = (_read_float32_error(_float32_error_path(Path(where), images))
                        if where and Path(where).exists() else None)
            if found is not None and measured is not None:
                found = _reclassify_earlier(found, lambda: measured)
        return found or {"model": unit.model, "source": unit.source, "target": unit.target,
                         "chain": registry.chain_name(unit.chain), "outcome": "not_run",
                         "steps": []}
    source = sources.path(unit.model, unit.source)
    source_sha = execute._source_identity(source)
    key = _unit_key(unit, source_sha, images)
    record = _record_path(key)
    if reuse and record.exists():
        try:
            saved = json.loads(record.read_text())
            if (saved.get("key") == key and saved["result"]["outcome"] != "input_mismatch"
                    and not execute.load_timed_out(saved["result"])):
                return dict(saved["result"], cached=True)
        except (ValueError, KeyError, TypeError):
            pass
    outputs = record.with_name(f"{unit.model}-{unit.source}-outputs-{images}.npz")
    if reuse and earlier is not None:
        taken = earlier.find(unit, images, _recipe(source))
        if taken is not None:
            return _reclassify_earlier(
                taken, lambda: sources.float32_error(source, images, outputs))
    source_probe = sources.probe(source)
    start = time.monotonic()
    chain = execute.convert_chain(unit.chain, source, source_probe, sources.timeout,
                                  sources.memory_gb, reuse)
    result: dict[str, Any] = {
        "model": unit.model, "source": unit.source, "target": unit.target,
        "source_path": str(source), "source_recipe": _recipe(source), **chain.to_dict(),
        "outcome": chain.status,
    }
    final_probe = chain.steps[-1].probe if chain.steps else None
    if chain.status == execute.OK and final_probe and final_probe.get("contract") is None:
        result["outcome"] = "input_mismatch"
        result["error"] = final_probe.get("contract_error")
    elif chain.status == execute.OK and chain.output:
        diff_json = record.with_suffix(".diff.json")
        try:
            document = _diff(source, Path(chain.output), images, outputs, diff_json,
                             sources.memory_gb)
            result["diff"] = document["summary"]
            result["contracts"] = {"source": document["source"]["contract"],
                                   "target": document["target"]["contract"]}
            classify(result, any(c.lossy for c in unit.chain),
                     lambda: sources.float32_error(source, images, outputs))
        except ConvmendError as exc:
            result["outcome"], result["diff_error"] = "run_failed", str(exc)
    result["seconds"] = round(time.monotonic() - start, 1)
    if chain.status != "unavailable":  # an install later must not find a stale outcome
        write_json(record, {"key": key, "result": result})
    return result


def run_matrix(models: Sequence[str], sources: Sequence[str] = SOURCES,
               targets: Sequence[str] = TARGETS, images: int = 20, jobs: int = 2,
               all_chains: bool = True, timeout: float = execute.DEFAULT_TIMEOUT,
               memory_gb: float = execute.DEFAULT_MEMORY_GB, reuse: bool = True,
               log: Any = None, cached_only: bool = False,
               earlier: Sequence[str | Path] = ()) -> dict[str, Any]:
    from convmend import __version__

    units = plan(models, sources, targets, all_chains)
    if not units:
        raise ConvmendError("the matrix is empty: no chain joins the chosen sources and targets")
    shared = _Sources(timeout, memory_gb)
    taken = Earlier(earlier)
    results: list[dict[str, Any]] = []
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run_unit, u, shared, images, reuse, cached_only, taken): u
                   for u in units}
        for done, future in enumerate(as_completed(futures), 1):
            unit = futures[future]
            try:
                result = future.result()
            except ConvmendError as exc:  # the source itself failed: recorded, not fatal
                result = {"model": unit.model, "source": unit.source, "target": unit.target,
                          "chain": registry.chain_name(unit.chain), "outcome": "source_failed",
                          "error": str(exc), "steps": []}
            results.append(relayout(result))
            if log is not None:
                log(f"[{done}/{len(units)}] {unit.name}: {_short(result)}")
    order = {u.name: k for k, u in enumerate(units)}
    results.sort(key=lambda r: order.get(
        f"{r['model']} {r['source']}->{r['target']}: {r['chain']}", 0))
    return {
        "tool": f"convmend {__version__}",
        "command": "convmend matrix " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["matrix"]
        else None,
        "images": images,
        "models": list(models), "sources": list(sources), "targets": list(targets),
        "converters": [c.to_dict() for c in registry.converters()],
        "seconds": round(time.monotonic() - start, 1),
        "earlier": [str(p) for p in earlier],
        "cells": results,
    }


def _unusual_layout(result: dict[str, Any]) -> str | None:
    """The converted model's input layout when it is one no framework uses, else None."""
    from convmend.preprocess import STANDARD_LAYOUTS

    layout = (((result.get("contracts") or {}).get("target") or {}).get("spec") or {}).get(
        "layout")
    return None if layout in (None, *STANDARD_LAYOUTS) else layout


def relayout(result: dict[str, Any]) -> dict[str, Any]:
    """A faithful cell whose converted model takes its images in a layout no framework uses
    (onnx2tf reading an NHWC input as NCHW makes nwch: height and width swapped, channels
    between them) is ``input_relayout``: it agrees when fed that way, but a pipeline made for
    the source, or any framework's, does not fit it."""
    if result.get("outcome") == "faithful" and _unusual_layout(result):
        result["outcome"] = "input_relayout"
    return result


def _short(result: dict[str, Any]) -> str:
    outcome = result["outcome"]
    if "diff" in result:
        d = result["diff"]
        layout = _unusual_layout(result)
        taken = f", input taken as {layout}" if layout else ""
        return (f"{outcome}, {d['disagreement_percent']:.0f}% disagree, "
                f"max |diff| {d['max_abs_diff']:.2g}{taken}")
    failed = result.get("failed_step")
    error = result.get("diff_error") or result.get("error") or next(
        (s.get("error") for s in result.get("steps", []) if s.get("error")), "")
    where = f" at {failed}" if failed and len(result.get("steps", [])) > 1 else ""
    return f"{outcome}{where}: {(error or '')[:140]}"


# --------------------------------------------------------------------------- reports

def _cell_lines(document: dict[str, Any], model: str, src: str, dst: str) -> list[str]:
    return [f"{r['chain']}: {_short(r)}" for r in document["cells"]
            if r["model"] == model and r["source"] == src and r["target"] == dst]


def to_markdown(document: dict[str, Any]) -> str:
    out = [f"# Conversion matrix ({document['tool']})", ""]
    if document.get("command"):
        out += [f"Command: `{document['command']}`", ""]
    out += [f"{document['images']} images per cell; {len(document['cells'])} chains; "
            f"{document['seconds']:.0f} s for this run (cached cells are reused).", ""]
    counts: dict[str, int] = {}
    for r in document["cells"]:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    out += ["Outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), ""]
    for model in document["models"]:
        out += [f"## {model}", "", "| source \\ target | " + " | ".join(document["targets"])
                + " |", "|---" * (len(document["targets"]) + 1) + "|"]
        for src in document["sources"]:
            cells = []
            for dst in document["targets"]:
                lines = _cell_lines(document, model, src, dst)
                cells.append("<br>".join(x.replace("|", "/") for x in lines) or "-")
            out.append(f"| **{src}** | " + " | ".join(cells) + " |")
        out.append("")
    out += ["## Every chain", "", "| model | source | target | chain | outcome | disagree % | "
            "max abs diff | mean cosine | seconds |", "|---|---|---|---|---|---|---|---|---|"]
    for r in document["cells"]:
        d = r.get("diff", {})
        out.append(f"| {r['model']} | {r['source']} | {r['target']} | {r['chain']} | "
                   f"{r['outcome']} | {d.get('disagreement_percent', '')} | "
                   f"{_fmt(d.get('max_abs_diff'))} | {_fmt(d.get('mean_cosine'))} | "
                   f"{r.get('seconds', '')} |")
    return "\n".join(out) + "\n"


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.3g}"


_COLORS = {"faithful": "#d8f0d8", "disagrees": "#f8e0b0", "declared_lossy": "#e8f0c0",
           "input_relayout": "#f0f0c0",
           "input_mismatch": "#f8d0a0", "converter_error": "#f4c0c0",
           "crash": "#e89090", "timeout": "#e8b0e8", "out_of_memory": "#e8b0e8",
           "load_failed": "#f4c0c0", "run_failed": "#f4c0c0", "unavailable": "#dddddd",
           "not_run": "#ffffff",
           "no_output": "#f4c0c0", "source_failed": "#dddddd"}


def to_html(document: dict[str, Any]) -> str:
    esc = html.escape
    parts = ["<!doctype html><meta charset='utf-8'><title>convmend matrix</title>",
             "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #999;padding:4px;vertical-align:top;font-size:12px}"
             "div.c{margin:2px 0;padding:2px}</style>",
             f"<h1>Conversion matrix</h1><p>{esc(document['tool'])}; {document['images']} "
             f"images per cell; {len(document['cells'])} chains.</p>"]
    for model in document["models"]:
        parts.append(f"<h2>{esc(model)}</h2><table><tr><th>source \\ target</th>"
                     + "".join(f"<th>{esc(t)}</th>" for t in document["targets"]) + "</tr>")
        for src in document["sources"]:
            parts.append(f"<tr><th>{esc(src)}</th>")
            for dst in document["targets"]:
                rows = [r for r in document["cells"] if r["model"] == model
                        and r["source"] == src and r["target"] == dst]
                inner = "".join(
                    f"<div class=c style='background:{_COLORS.get(r['outcome'], '#fff')}'>"
                    f"<b>{esc(r['chain'])}</b><br>{esc(_short(r))}</div>" for r in rows)
                parts.append(f"<td>{inner or '-'}</td>")
            parts.append("</tr>")
        parts.append("</table>")
    return "\n".join(parts) + "\n"


def write_reports(document: dict[str, Any], out_dir: str | Path, stem: str = "matrix") -> list[
        Path]:
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.json", folder / f"{stem}.md", folder / f"{stem}.html"]
    write_json(paths[0], document)
    write_bytes_atomically(paths[1], to_markdown(document).encode())
    write_bytes_atomically(paths[2], to_html(document).encode())
    return paths


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))
