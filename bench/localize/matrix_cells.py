"""Localization of the real conversions of the matrix (bench/results/matrix.json).

Every cell whose converted model loads and takes the source's images is localized with
`convmend.localize.localize(source, converted)`:
- a *faithful* cell (native outputs within float noise) must produce no finding other than
  `runtime.numeric` or `param.declared_lossy`; anything else is counted as a false positive;
- a *disagreeing* or *declared-lossy* cell must be localized: its findings are its root causes;
- an *input_relayout* cell (it agrees fed in a layout no framework uses, onnx2tf's NWCH) must
  be localized as `input.layout`.

    .venv/bin/python bench/localize/matrix_cells.py [--matrix bench/results/matrix.json]
        [--count 8] [--models mobilenet_v2 ...] [--outcomes declared_lossy ...]
        [--merge [--missing]]

`--merge` keeps the rows of an earlier run at `--out` that this run does not redo (a cell is
its model, source, target and chain), so that a heavy matrix can be localized in parts.

Results: bench/results/localize_matrix.{json,md}. Cells are independent; a cell whose
localization raises is recorded with its error line, never skipped silently.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from benchdoc import cell_key, converted_model, run_header, write_results  # noqa: E402

RESULTS = ROOT / "bench" / "results"
EXPECTED_ON_FAITHFUL = {"runtime.numeric", "param.declared_lossy"}
LOCALIZABLE = {"faithful", "disagrees", "declared_lossy", "input_relayout"}


def localize_cell(cell: dict[str, Any], count: int) -> dict[str, Any]:
    from convmend.errors import ConvmendError
    from convmend.localize import localize

    start = time.perf_counter()
    try:
        report = localize(cell["source_path"], converted_model(cell), count=count)
    except ConvmendError as exc:
        return {"status": "error", "message": str(exc)[:300],
                "seconds": round(time.perf_counter() - start, 1)}
    findings = [{"code": f["code"], "confirmed": f["confirmed"],
                 "confidence": round(f["confidence"], 3),
                 "target": [n["name"] for n in f["target_nodes"]][:2],
                 "source": [n["name"] for n in f["source_nodes"]][:2],
                 "discrepancy_before": f.get("discrepancy_before"),
                 "discrepancy_after_patch": f.get("discrepancy_after_patch")}
                for f in report["findings"]]
    alignment = report["alignment"]
    return {"status": "ok", "seconds": round(time.perf_counter() - start, 1),
            "ir_disagreeing": report["labels"]["summary"]["ir_disagreeing"],
            "matches": len(alignment["matches"]),
            "unmatched": [len(alignment["unmatched_source"]),
                          len(alignment["unmatched_target"])],
            "findings": findings}


def unexpected(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in row["localize"].get("findings", [])
            if f["code"] not in EXPECTED_ON_FAITHFUL]


def markdown(doc: dict[str, Any]) -> str:
    faithful = [r for r in doc["rows"] if r["outcome"] == "faithful"]
    ok = [r for r in faithful if r["localize"]["status"] == "ok"]
    fp_cells = [r for r in ok if unexpected(r)]
    fp = sum(len(unexpected(r)) for r in ok)
    relayout = [r for r in doc["rows"] if r["outcome"] == "input_relayout"]
    named = [r for r in relayout if r["localize"]["status"] == "ok" and any(
        f["code"] == "input.layout" for f in r["localize"]["findings"][:1])]
    lossy = [r for r in doc["rows"] if r["outcome"] in ("disagrees", "declared_lossy")]
    causes = Counter(r["localize"]["findings"][0]["code"] for r in lossy
                     if r["localize"]["status"] == "ok" and r["localize"]["findings"])
    commands = [f"`{p['command']}` ({p['seconds']:.0f} s, {p['images']} images per cell)"
                for p in doc.get("parts", [])] or [
        f"`{doc['command']}`; {doc['seconds']:.0f} s; {doc['images']} images per cell"]
    lines = ["# Localization of the matrix's real conversions", "",
             f"Command{'s' if len(commands) > 1 else ''}: " + "; ".join(commands) +
             f"; on {doc['machine']}. Matrix: `{doc['matrix']}`.", ""]
    if doc.get("partial"):
        lines += [f"**Partial run**: the last part localized {doc['done']} of its "
                  f"{doc['planned']} cells before it was stopped.", ""]
    lines += [
        f"**Disagreeing and declared-lossy cells:** {len(lossy)} localized; first "
        "finding: " + (", ".join(f"{c} {n}" for c, n in sorted(causes.items())) or "none")
        + f" ({len(lossy) - sum(causes.values())} without a finding).", "",
        f"**Faithful cells:** {len(ok)} localized ({len(faithful) - len(ok)} raised); "
        f"**{fp} false-positive finding(s) in {len(fp_cells)} cell(s)** (anything other "
        "than runtime.numeric / param.declared_lossy).", "",
        f"**Input relayout cells:** input.layout ranked first in {len(named)} of "
        f"{len(relayout)}.", ""]
    codes = Counter(f["code"] for r in ok for f in r["localize"]["findings"])
    if codes:
        lines.append("Findings on faithful cells by code: " +
                     ", ".join(f"{c} {n}" for c, n in sorted(codes.items())) + ".")
        lines.append("")
    lines += ["| model | source -> target | chain | outcome | seconds | matched, unmatched "
              "(s, t) | findings |", "|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        loc = r["localize"]
        if loc["status"] != "ok":
            what = "error: " + loc["message"][:120]
            shape = "-"
        else:
            what = "; ".join(
                f"{f['code']}{' (confirmed)' if f['confirmed'] else ''}"
                f"{' at ' + f['target'][0][-40:] if f['target'] else ''}"
                for f in loc["findings"][:3]) or "none"
            if len(loc["findings"]) > 3:
                what += f"; +{len(loc['findings']) - 3} more"
            shape = f"{loc['matches']}, {loc['unmatched'][0]}/{loc['unmatched'][1]}"
        lines.append(f"| {r['model']} | {r['source']} -> {r['target']} | `{r['chain']}` | "
                     f"{r['outcome']} | {loc['seconds']} | {shape} | {what} |")
    return "\n".join(lines) + "\n"



def merged(earlier: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the rows of an earlier run that it did not redo, in matrix order (model,
    then the earlier row order); each part's command is kept."""
    redone = {cell_key(r) for r in doc["rows"]}
    kept = [r for r in earlier["rows"] if cell_key(r) not in redone]
    models = list(dict.fromkeys(r["model"] for r in kept + doc["rows"]))
    rows = sorted(kept + doc["rows"], key=lambda r: models.index(r["model"]))
    parts = list(earlier.get("parts") or
                 [{k: earlier[k] for k in ("command", "seconds", "images")}])
    parts.append({k: doc[k] for k in ("command", "seconds", "images")})
    return {**doc, "rows": rows, "parts": parts,
            "seconds": round(sum(p["seconds"] for p in parts), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--matrix", default=str(RESULTS / "matrix.json"))
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--models", nargs="+", default=None)
    ap.add_argument("--outcomes", nargs="+", choices=sorted(LOCALIZABLE), default=None,
                    help="only cells of these outcomes")
    ap.add_argument("--out", default=str(RESULTS / "localize_matrix"))
    ap.add_argument("--merge", action="store_true",
                    help="keep the earlier run's rows at --out that this run does not redo")
    ap.add_argument("--missing", action="store_true",
                    help="with --merge: only the cells with no localized row yet")
    args = ap.parse_args(argv)
    matrix = json.loads(Path(args.matrix).read_text())
    # A cell converted on another machine is converted again here (benchdoc.converted_model).
    cells = [c for c in matrix["cells"] if c["outcome"] in LOCALIZABLE and c.get("steps")
             and (args.models is None or c["model"] in args.models)
             and (args.outcomes is None or c["outcome"] in args.outcomes)]
    earlier_path = Path(f"{args.out}.json")
    earlier = (json.loads(earlier_path.read_text())
               if args.merge and earlier_path.is_file() else None)
    if earlier is not None and args.missing:
        done = {cell_key(r) for r in earlier["rows"] if r["localize"]["status"] == "ok"}
        cells = [c for c in cells if cell_key(c) not in done]
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []

    def write(partial: bool) -> None:
        # After every cell: a long run that is stopped keeps what it measured.
        doc = {
            **run_header("bench/localize/matrix_cells.py", argv, start, args.count,
                         args.matrix),
            "partial": partial, "planned": len(cells), "done": len(rows),
            "rows": rows,
        }
        write_results(args.out, merged(earlier, doc) if earlier is not None else doc,
                      markdown)

    for k, cell in enumerate(cells):
        row = {key: cell[key] for key in ("model", "source", "target", "chain", "outcome")}
        row["localize"] = localize_cell(cell, args.count)
        rows.append(row)
        write(partial=True)
        loc = row["localize"]
        said = (", ".join(sorted({f["code"] for f in loc["findings"]})) or "no finding"
                if loc["status"] == "ok" else loc["message"])
        print(f"[{k + 1}/{len(cells)}] {cell['model']} {cell['source']}->{cell['target']} "
              f"{cell['chain']} ({cell['outcome']}): {said} ({loc['seconds']} s)", flush=True)
    write(partial=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
