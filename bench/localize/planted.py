"""Localization accuracy on the planted-fault corpus (python -m convmend.faults.plant):
for every planted file, run `convmend.localize.localize(source, planted target)` and check
whether the first (top-1) or one of the first three (top-3) findings names the planted code,
and the planted code on the planted node. Results: bench/results/localize_planted.{json,md}.

    .venv/bin/python bench/localize/planted.py [--models mobilenet_v2] [--count 8]
        [--kinds onnx-keras tflite-keras onnx-torch] [--codes ...] [--manifest PATH]

A finding is on the planted node when one of its target nodes is a planted node (by name,
output or provenance name); for a node the recipe removed (graph.missing_op on ONNX), a
neighbour of it in the clean target also counts, and so does a source node whose name is
contained in the planted node's provenance name (a Keras layer inside a tf2onnx/TFLite
name). Faults with no effect on the check images (``observable: false``) are listed apart.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from benchdoc import interleaved, planted_key  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def _neighbours(clean_target: str, names: set[str], cache: dict[str, Any]) -> set[str]:
    """Names of the producers and consumers of the named nodes in the clean target."""
    from convmend import engine

    if clean_target not in cache:
        cache[clean_target] = engine.load(clean_target).nodes()
    nodes = cache[clean_target]
    producer = {out: n["name"] for n in nodes for out in n["outputs"]}
    found: set[str] = set()
    for n in nodes:
        if n["name"] in names:
            found |= {producer[i] for i in n["inputs"] if i in producer}
            found |= {m["name"] for m in nodes if set(n["outputs"]) & set(m["inputs"])}
    return found


def on_planted_node(finding: dict[str, Any], entry: dict[str, Any],
                    cache: dict[str, Any]) -> bool:
    planted = entry["nodes"]
    keys = {k for n in planted for k in (n["name"], n.get("output"), n["provenance_name"]) if k}
    for t in finding.get("target_nodes", []):
        if {t.get("name"), (t.get("provenance") or {}).get("name")} & keys:
            return True
    removed = {n["name"] for n in planted if n.get("removed")}
    if removed:
        near = _neighbours(entry["clean_target"], removed, cache)
        if {t.get("name") for t in finding.get("target_nodes", [])} & near:
            return True
    provenance = [n["provenance_name"] for n in planted]
    for s in finding.get("source_nodes", []):
        name = (s.get("provenance") or {}).get("name") or s.get("name") or ""
        if len(name) >= 4 and any(f"/{name}_" in p or f"/{name}/" in p for p in provenance):
            return True
    return False


def evaluate(entry: dict[str, Any], report: dict[str, Any], cache: dict[str, Any]
             ) -> dict[str, Any]:
    findings = report["findings"]
    hits = [(f["code"] == entry["code"], f["code"] == entry["code"]
             and on_planted_node(f, entry, cache)) for f in findings]
    return {
        "top1_code": bool(hits and hits[0][0]),
        "top1": bool(hits and hits[0][1]),
        "top3_code": any(h[0] for h in hits[:3]),
        "top3": any(h[1] for h in hits[:3]),
        "found_codes": [f["code"] for f in findings[:5]],
        "top_target": (findings[0]["target_nodes"][0]["name"][:120]
                       if findings and findings[0].get("target_nodes") else None),
    }


def _observable(row: dict[str, Any]) -> bool:
    # A changed input layout leaves the outputs equal when fed in the new layout: still a
    # fault of the file, visible at the input.
    return bool(row.get("observable", True)) or row["code"] == "input.layout"


def _rate(rows: list[dict[str, Any]], key: str) -> str:
    return f"{sum(r[key] for r in rows)}/{len(rows)}" if rows else "-"


def write_reports(doc: dict[str, Any]) -> None:
    from convmend.fileio import write_bytes_atomically, write_json

    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "localize_planted.json", doc)
    lines = ["# Localization on planted faults", "",
             f"{doc['tool']}, {doc['when']}, {doc['machine']}; models "
             f"{', '.join(sorted({r['model'] for r in doc['results']}))}; "
             f"{doc['count']} images per case; "
             f"{doc['seconds']:.0f} s in all"
             + (f" (PARTIAL: {len(doc['results'])} of {doc['cases_planned']} cases)"
                if doc.get("partial") else "")
             + ". `convmend._core.localize`: "
             f"{'built' if doc['core'] else 'NOT built (input stage only)'}.", "",
             "top-1 / top-3: the first / one of the first three findings has the planted code "
             "**and** names the planted node; *code only* ignores the node. Unobservable "
             "faults (no output change on the check images) are excluded.", "",
             "| code | cases | top-1 | top-3 | top-1 code only | top-3 code only |",
             "|---|---|---|---|---|---|"]
    rows = [r for r in doc["results"] if _observable(r) and "error" not in r]
    by_code: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_code[r["code"]].append(r)
    for code in sorted(by_code):
        rs = by_code[code]
        lines.append(f"| {code} | {len(rs)} | {_rate(rs, 'top1')} | {_rate(rs, 'top3')} | "
                     f"{_rate(rs, 'top1_code')} | {_rate(rs, 'top3_code')} |")
    lines.append(f"| **all** | {len(rows)} | {_rate(rows, 'top1')} | {_rate(rows, 'top3')} | "
                 f"{_rate(rows, 'top1_code')} | {_rate(rows, 'top3_code')} |")
    lines += ["", "| model | target kind | cases | top-1 | top-3 | unobservable (excluded) |",
              "|---|---|---|---|---|---|"]
    by_kind: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    hidden: dict[tuple[str, str], int] = defaultdict(int)
    for r in doc["results"]:
        if not _observable(r):
            hidden[(r["model"], r["target_kind"])] += 1
    for r in rows:
        by_kind[(r["model"], r["target_kind"])].append(r)
    for model, kind in sorted(set(by_kind) | set(hidden)):
        rs = by_kind[(model, kind)]
        lines.append(f"| {model} | {kind} | {len(rs)} | {_rate(rs, 'top1')} | "
                     f"{_rate(rs, 'top3')} | {hidden[(model, kind)]} |")
    lines += ["", "## Misses (top-1)", "", "| target | planted | found (first 5) |",
              "|---|---|---|"]
    for r in rows:
        if not r["top1"]:
            lines.append(f"| {Path(r['target']).parent.name}/{Path(r['target']).name} | "
                         f"{r['code']} | {', '.join(r['found_codes']) or '(none)'} |")
    unobservable = [r for r in doc["results"] if not _observable(r)]
    errors = [r for r in doc["results"] if "error" in r]
    if unobservable:
        lines += ["", "Unobservable (excluded): " + ", ".join(
            f"{Path(r['target']).parent.name}/{Path(r['target']).name}" for r in unobservable)]
    if errors:
        lines += ["", "## Errors", ""] + [f"- {Path(r['target']).name}: {r['error']}"
                                          for r in errors]
    write_bytes_atomically(RESULTS / "localize_planted.md", ("\n".join(lines) + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    from convmend import __version__, localize
    from convmend.errors import ConvmendError
    from convmend.zoo.build import cache_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", default=str(cache_dir() / "planted" / "manifest.json"))
    parser.add_argument("--models", nargs="+", default=["mobilenet_v2"])
    parser.add_argument("--kinds", nargs="+", default=None)
    parser.add_argument("--codes", nargs="+", default=None)
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--interleave", action="store_true",
                        help="every kind and code once first (a run stopped early covers "
                             "each)")
    parser.add_argument("--update", action="store_true",
                        help="replace the selected cases in the existing results")
    parser.add_argument("--missing", action="store_true",
                        help="only the selected cases that have no result yet (implies "
                             "--update)")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the .md from bench/results/localize_planted.json")
    args = parser.parse_args(argv)
    if args.report_only:
        write_reports(json.loads((RESULTS / "localize_planted.json").read_text()))
        return 0
    manifest = json.loads(Path(args.manifest).read_text())
    entries = [e for e in manifest["faults"] if e["model"] in args.models
               and (args.kinds is None or e["target_kind"] in args.kinds)
               and (args.codes is None or e["code"] in args.codes)]
    if args.interleave:
        entries = interleaved(entries)
    results: list[dict[str, Any]] = []
    cache: dict[str, Any] = {}
    start = time.perf_counter()
    kept: list[dict[str, Any]] = []
    if (args.update or args.missing) and (RESULTS / "localize_planted.json").is_file():
        previous = json.loads((RESULTS / "localize_planted.json").read_text())["results"]
        if args.missing:
            done = {planted_key(r) for r in previous}
            entries = [e for e in entries if planted_key(e) not in done]
        selected = {planted_key(e) for e in entries}
        kept = [r for r in previous if planted_key(r) not in selected]

    def document(partial: bool) -> dict[str, Any]:
        return {"tool": f"convmend {__version__}", "when": time.strftime("%Y-%m-%d %H:%M"),
                "machine": f"{platform.machine()}, {platform.python_version()}",
                "core": localize.core_available(), "models": args.models,
                "count": args.count, "seconds": time.perf_counter() - start,
                "manifest": args.manifest, "partial": partial,
                "cases_planned": len(entries) + len(kept), "results": kept + results}

    for k, entry in enumerate(entries, 1):
        row = {key: entry[key] for key in ("model", "target_kind", "code", "position",
                                            "magnitude", "target")}
        row["observable"] = entry.get("observable", True)
        t0 = time.perf_counter()
        try:
            report = localize.localize(entry["source"], entry["target"], count=args.count)
            row.update(evaluate(entry, report, cache))
        except ConvmendError as exc:
            row["error"] = str(exc)[:300]
        row["seconds"] = round(time.perf_counter() - t0, 2)
        results.append(row)
        mark = "ok " if row.get("top1") else ("~  " if row.get("top3") else "-- ")
        print(f"[{k}/{len(entries)}] {mark}{entry['target_kind']:12} {entry['code']:22} "
              f"{entry['position']:6} {entry['magnitude']:8} -> "
              f"{row.get('found_codes', row.get('error'))} ({row['seconds']} s)", flush=True)
        write_reports(document(partial=k < len(entries)))  # usable if stopped early
    write_reports(document(partial=False))
    print(f"wrote {RESULTS / 'localize_planted.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
