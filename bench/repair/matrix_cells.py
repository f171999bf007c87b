"""Repair every disagreeing cell of the conversion matrix (bench/results/matrix.json): each
converted model whose outputs differ from its source beyond float noise (outcome
`disagrees` or `declared_lossy`, or any image whose top-1 changes) is repaired with
`convmend repair`, once as a user would by default (declared-lossy weights are kept, so the
repair declines) and once with `--restore-precision`; before and after are native (the
source's framework and the target's runtime, every image). Cells whose converted model does
not take the source's images (`input_mismatch`) are repaired with `--reconvert`; cells whose
converted model agrees only when fed a layout no framework uses (`input_relayout`: onnx2tf's
NWCH) with `--input-fix bake`.

    .venv/bin/python bench/repair/matrix_cells.py [--matrix bench/results/matrix.json]
        [--count 20] [--models mobilenet_v2 ...] [--kinds disagreeing mismatch relayout]
        [--merge [--redo declined ...]]

``--merge`` keeps the rows of the existing results and measures only the cells without one
(and those whose repair status is one of ``--redo``).

Results: bench/results/repair.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from benchdoc import cell_key, converted_model, run_header, write_results  # noqa: E402

RESULTS = ROOT / "bench" / "results"
KINDS = ("disagreeing", "mismatch", "relayout")


def disagreeing_cells(matrix: dict[str, Any]) -> tuple[list[dict], list[dict], list[dict]]:
    repairable, mismatched, relayout = [], [], []
    for cell in matrix["cells"]:
        diff = cell.get("diff") or {}
        if cell["outcome"] == "input_mismatch":
            mismatched.append(cell)
        elif cell["outcome"] == "input_relayout":
            relayout.append(cell)
        elif cell["outcome"] in ("disagrees", "declared_lossy") or (
                diff and (diff.get("disagreeing_images", 0) > 0
                          or diff.get("max_relative_error", 0) > 1e-2)):
            repairable.append(cell)
    return repairable, mismatched, relayout


def _native(report: dict[str, Any], key: str) -> dict[str, Any] | None:
    side = (report.get("native") or {}).get(key)
    if not side or "error" in side:
        return side
    return {k: side[k] for k in ("disagreeing", "max_relative_error", "accuracy") if k in side}


def repair_cell(cell: dict[str, Any], count: int, restore: bool, tmp: Path,
                reconvert: bool = False, input_fix: str = "emit") -> dict[str, Any]:
    import shutil

    from convmend.errors import ConvmendError
    from convmend.repair import repair

    try:
        target = Path(converted_model(cell))
    except ConvmendError as exc:
        return {"status": "not run", "message": str(exc)[:400]}
    out = tmp / f"{cell['model']}-{cell['source']}-{cell['target']}{target.suffix}"
    start = time.perf_counter()
    try:
        report = repair(cell["source_path"], target, out, count=count, restore_precision=restore,
                        reconvert=reconvert, input_fix=input_fix)
    except ConvmendError as exc:
        return {"status": "declined", "message": str(exc)[:400],
                "seconds": round(time.perf_counter() - start, 1)}
    size = out.stat().st_size if out.is_file() else None
    if out.is_dir():
        shutil.rmtree(out)
    out.unlink(missing_ok=True)
    Path(str(out) + ".json").unlink(missing_ok=True)
    return {"status": report["status"], "output_bytes": size, "seconds": report["seconds"],
            "before": _native(report, "target"), "after": _native(report, "repaired"),
            "source_accuracy": (report.get("native") or {}).get("source_accuracy"),
            "kept": sorted({s["code"] for s in report["steps"] if s.get("kept")}),
            "written": report["output"].get("written"),
            "edits": [e for st in report["steps"] if st.get("kept") for e in st.get("edits", [])],
            "declined_steps": [f"{st['code']}: {st['reason']}" for st in report["steps"]
                               if not st.get("kept") and st.get("reason")][:2],
            "target_bytes": target.stat().st_size if target.is_file() else None}


def markdown(doc: dict[str, Any]) -> str:
    lines = ["# Repair of the disagreeing cells of the conversion matrix", "",
             f"Command: `{doc['command']}`; {doc['seconds']:.0f} s on {doc['machine']}; "
             f"{doc['images']} images per cell, before and after measured natively on all of "
             f"them. Matrix: `{doc['matrix']}` ({doc['matrix_cells']} cells; "
             f"{doc['not_run']} not run yet).", ""]
    if doc.get("partial"):
        done = len(doc["rows"]) + len(doc["input_mismatch"]) + len(doc["input_relayout"])
        lines += [f"**Partial run**: {done} of the {doc['planned']} planned cells measured; "
                  "the run was stopped before the rest.", ""]
    lines += ["| model | source -> target | chain | outcome | before: disagree, max rel. err | "
             "default repair | with --restore-precision: after | kept |",
             "|---|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        b = r["restore"].get("before") or {}
        a = r["restore"].get("after") or {}
        before = (f"{b.get('disagreeing')}, {b.get('max_relative_error', 0):.3g}" if b
                  else "-")
        after = (f"{a.get('disagreeing')}, {a.get('max_relative_error', 0):.3g} "
                 f"({r['restore']['status']})" if a and "error" not in a
                 else r["restore"].get("message", r["restore"]["status"])[:120])
        default = r["default"]["status"]
        if default == "declined":
            default += ": " + r["default"]["message"].split(": ", 1)[-1][:90]
        lines.append(f"| {r['model']} | {r['source']} -> {r['target']} | `{r['chain']}` | "
                     f"{r['outcome']} | {before} | {default} | {after} | "
                     f"{', '.join(r['restore'].get('kept', []))} |")
    lines += ["", "## Cells whose converted model does not take the source's images", "",
              "The converted model's input takes no layout convmend can derive from the source's "
              "(a non-square input, or a shape no permutation of the source's fits): the IR "
              "repair cannot start. `convmend repair --reconvert` converts the source again "
              "through the registered chains of the "
              "cell and writes the first output that agrees natively (converter.choice).", "",
              "| model | source -> target | chain | why it cannot be fed | "
              "repair --reconvert: after (native) | written |", "|---|---|---|---|---|---|"]
    for c in doc["input_mismatch"]:
        r = c.get("reconvert") or {}
        a = r.get("after") or {}
        after = (f"{a.get('disagreeing')}, {a.get('max_relative_error', 0):.3g} "
                 f"({r['status']})" if a and "error" not in a
                 else (r.get("message") or r.get("status") or "not run")[:120])
        lines.append(f"| {c['model']} | {c['source']} -> {c['target']} | `{c['chain']}` | "
                     f"{c['reason'][:90]} | {after} | {'; '.join(r.get('written') or [])} |")
    lines += ["", "## Cells whose converted model takes a layout no framework uses", "",
              "onnx2tf reads every 4-D ONNX input as NCHW; given the NHWC input tf2onnx and "
              "onnxmltools write, it makes [1, 224, 3, 224] (NWCH). Fed that way the model "
              "agrees (`input_relayout`); `convmend repair --input-fix bake` puts a Transpose "
              "after the input so that it takes the source's NHWC images (ONNX, TFLite and "
              "SavedModel; a Keras target gets the layout in its contract instead).", "",
              "| model | source -> target | chain | before: disagree, max rel. err | after "
              "(native) | edits |", "|---|---|---|---|---|---|"]
    for c in doc.get("input_relayout", []):
        r = c.get("bake") or {}
        b, a = r.get("before") or {}, r.get("after") or {}
        before = (f"{b.get('disagreeing')}, {b.get('max_relative_error', 0):.3g}"
                  if b and "error" not in b else "-")
        after = (f"{a.get('disagreeing')}, {a.get('max_relative_error', 0):.3g} "
                 f"({r['status']})" if a and "error" not in a
                 else (r.get("message") or r.get("status") or "not run")[:120])
        lines.append(f"| {c['model']} | {c['source']} -> {c['target']} | `{c['chain']}` | "
                     f"{before} | {after} | "
                     f"{'; '.join(r.get('edits') or r.get('declined_steps') or [])[:200]} |")
    return "\n".join(lines) + "\n"



def _unmeasured(cells: list[dict], old_rows: list[dict], field: str, redo: list[str],
                kept: list[dict]) -> list[dict]:
    """The cells still to measure; ``kept`` gets the old rows that stay."""
    done = {cell_key(r): r for r in old_rows if (r.get(field) or {}).get("status") not in redo}
    kept.extend(done[cell_key(c)] for c in cells if cell_key(c) in done)
    return [c for c in cells if cell_key(c) not in done]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--matrix", default=str(RESULTS / "matrix.json"))
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--out", default=str(RESULTS / "repair"))
    ap.add_argument("--models", nargs="+", help="only these models' cells")
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS),
                    help="which cells: disagreeing, mismatch (input_mismatch), relayout")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows already in --out; measure only cells without one")
    ap.add_argument("--redo", nargs="+", default=[],
                    help="with --merge: measure again the cells whose status is one of these")
    args = ap.parse_args(argv)
    matrix = json.loads(Path(args.matrix).read_text())
    if args.models:
        matrix["cells"] = [c for c in matrix["cells"] if c["model"] in args.models]
    repairable, mismatched, relayout = disagreeing_cells(matrix)
    repairable = repairable if "disagreeing" in args.kinds else []
    mismatched = mismatched if "mismatch" in args.kinds else []
    relayout = relayout if "relayout" in args.kinds else []
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    mismatch_rows: list[dict[str, Any]] = []
    relayout_rows: list[dict[str, Any]] = []
    if args.merge:
        old = json.loads(Path(args.out + ".json").read_text())
        repairable = _unmeasured(repairable, old["rows"], "restore", args.redo, rows)
        mismatched = _unmeasured(mismatched, old["input_mismatch"], "reconvert", args.redo,
                                 mismatch_rows)
        relayout = _unmeasured(relayout, old["input_relayout"], "bake", args.redo,
                               relayout_rows)
        # Rows of kinds or models not selected now stay as they were; cells measured again
        # get their new row only.
        redo = {cell_key(c) for c in repairable + mismatched + relayout}
        for key, kept in (("rows", rows), ("input_mismatch", mismatch_rows),
                          ("input_relayout", relayout_rows)):
            have = {cell_key(r) for r in kept} | redo
            kept += [r for r in old[key] if cell_key(r) not in have]

    planned = (len(repairable) + len(mismatched) + len(relayout) + len(rows)
               + len(mismatch_rows) + len(relayout_rows))
    models = list(dict.fromkeys(c["model"] for c in matrix["cells"]))

    def _order(row: dict[str, Any]) -> tuple:
        rank = models.index(row["model"]) if row["model"] in models else len(models)
        return (rank, row["source"], row["target"], row["chain"])

    def write(partial: bool) -> None:
        # After every cell: a long run that is stopped keeps what it measured.
        doc = {
            **run_header("bench/repair/matrix_cells.py", argv, start, args.count, args.matrix),
            "matrix_cells": len(matrix["cells"]),
            "not_run": sum(c["outcome"] == "not_run" for c in matrix["cells"]),
            "partial": partial,
            "planned": planned,
            "rows": sorted(rows, key=_order),
            "input_mismatch": sorted(mismatch_rows, key=_order),
            "input_relayout": sorted(relayout_rows, key=_order),
        }
        write_results(args.out, doc, markdown)

    with tempfile.TemporaryDirectory(prefix="convmend-repair-cells-") as tmp:
        for k, cell in enumerate(repairable):
            row = {key: cell[key] for key in ("model", "source", "target", "chain", "outcome",
                                              "output")}
            row["default"] = repair_cell(cell, args.count, False, Path(tmp))
            row["restore"] = repair_cell(cell, args.count, True, Path(tmp))
            rows.append(row)
            write(partial=True)
            print(f"[{k + 1}/{len(repairable)}] {cell['model']} {cell['source']}->"
                  f"{cell['target']} {cell['chain']}: default {row['default']['status']}, "
                  f"--restore-precision {row['restore']['status']}", flush=True)
        for cell in mismatched:
            row = {key: cell[key] for key in ("model", "source", "target", "chain")}
            row["reason"] = cell.get("error") or ""
            row["reconvert"] = repair_cell(cell, args.count, False, Path(tmp), reconvert=True)
            mismatch_rows.append(row)
            write(partial=True)
            print(f"input mismatch {cell['model']} {cell['source']}->{cell['target']} "
                  f"{cell['chain']}: --reconvert {row['reconvert']['status']}", flush=True)
        for cell in relayout:
            row = {key: cell[key] for key in ("model", "source", "target", "chain")}
            row["bake"] = repair_cell(cell, args.count, False, Path(tmp), input_fix="bake")
            relayout_rows.append(row)
            write(partial=True)
            print(f"input relayout {cell['model']} {cell['source']}->{cell['target']} "
                  f"{cell['chain']}: --input-fix bake {row['bake']['status']}", flush=True)
    write(partial=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
