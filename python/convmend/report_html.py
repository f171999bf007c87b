"""The localize report as one self-contained HTML page: the per-layer error curve as inline
SVG (propagated and isolated error per aligned pair, log scale), the ranked findings and the
source-to-target mapping. No scripts, no external files."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from convmend.fileio import write_bytes_atomically

WIDTH, HEIGHT, PAD = 900, 320, 48
FLOOR = 1e-9  # errors below this (exact matches) are drawn at the floor of the log axis
STYLE = """<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; }
th { background: #f3f3f3; } td.ev { font-size: 12px; } .warn { color: #a40; }
code { font-size: 13px; }
</style>"""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _short(name: str, limit: int = 70) -> str:
    name = name.split(";")[0]
    return name if len(name) <= limit else "..." + name[-(limit - 3):]


def _node_names(nodes: list[dict[str, Any]]) -> str:
    return ", ".join(_short((n.get("provenance") or {}).get("name") or n.get("name", "?"))
                     for n in nodes[:3]) + (f" (+{len(nodes) - 3})" if len(nodes) > 3 else "")


def error_curve_svg(errors: list[dict[str, Any]], marks: set[int] | None = None) -> str:
    """Propagated (blue) and isolated (orange) relative error per aligned pair, log10 y; the
    pairs named by findings are marked with red ticks."""
    series = {"propagated": "#1f77b4", "isolated": "#ff7f0e"}
    values = [e.get(k) for e in errors for k in series if e.get(k) is not None]
    finite = [max(float(v), FLOOR) for v in values if math.isfinite(float(v))]
    if not errors or not finite:
        return "<p>No per-layer errors (no aligned pair could be compared).</p>"
    lo = math.floor(math.log10(min(finite)))
    hi = max(math.ceil(math.log10(max(finite))), lo + 1)
    n = len(errors)

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        v = min(max(v, 10.0 ** lo), 10.0 ** hi)
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (math.log10(v) - lo) / (hi - lo)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="per-layer error">',
             f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>']
    for k in range(lo, hi + 1):
        yy = y(10.0 ** k)
        parts.append(f'<line x1="{PAD}" y1="{yy:.1f}" x2="{WIDTH - PAD}" y2="{yy:.1f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{PAD - 6}" y="{yy + 4:.1f}" font-size="11" '
                     f'text-anchor="end">1e{k}</text>')
    for i in sorted(marks or ()):
        if 0 <= i < n:
            parts.append(f'<line x1="{x(i):.1f}" y1="{PAD}" x2="{x(i):.1f}" '
                         f'y2="{HEIGHT - PAD}" stroke="#d62728" stroke-dasharray="3,3"/>')
    for key, color in series.items():
        pts = [(x(i), y(max(float(e[key]), FLOOR))) for i, e in enumerate(errors)
               if e.get(key) is not None and math.isfinite(float(e[key]))]
        if not pts:
            continue
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" '
                     f'points="{path}"/>')
        for (px, py), e in zip(pts, [e for e in errors if e.get(key) is not None
                                     and math.isfinite(float(e[key]))], strict=True):
            title = _esc(f"#{e['match']} {_short(e.get('target_value', ''))}: {key} "
                         f"{float(e[key]):.3g}")
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.2" fill="{color}">'
                         f'<title>{title}</title></circle>')
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 10}" font-size="12" '
                 'text-anchor="middle">aligned pair (source order)</text>')
    parts.append(f'<text x="14" y="{HEIGHT / 2}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 14 {HEIGHT / 2})">relative error (log)</text>')
    ly = PAD - 20
    for j, (key, color) in enumerate(series.items()):
        lx = WIDTH - PAD - 220 + 110 * j
        parts.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 20}" y2="{ly}" stroke="{color}" '
                     'stroke-width="2"/>')
        parts.append(f'<text x="{lx + 25}" y="{ly + 4}" font-size="12">{key}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _marks(report: dict[str, Any]) -> set[int]:
    """Indices of the aligned pairs whose target nodes a finding names."""
    by_target: dict[int, int] = {}
    for i, m in enumerate((report.get("alignment") or {}).get("matches", [])):
        for n in m.get("target_nodes", []):
            by_target[n["id"]] = i
    return {by_target[n["id"]] for f in report.get("findings", [])
            for n in f.get("target_nodes", []) if n.get("id") in by_target}


def _side(label: str, side: dict[str, Any]) -> str:
    return (f"{label}: <code>{_esc(side['path'])}</code> ({_esc(side['format'])}, "
            f"sha256 {_esc(side['sha256'][:16])}...)")


def render(report: dict[str, Any]) -> str:
    src, dst = report["inputs"]["source"], report["inputs"]["target"]
    lab = report["labels"]["summary"]
    rows = []
    for f in report["findings"]:
        ev = "<br>".join(f"<b>{_esc(k)}</b>: {_esc(v)}" for k, v in f.get("evidence", {}).items())
        before, after = f.get("discrepancy_before"), f.get("discrepancy_after_patch")
        effect = "" if before is None or after is None else f"{before:.3g} &rarr; {after:.3g}"
        rows.append(
            f"<tr><td>{f.get('rank', '')}</td><td><code>{_esc(f['code'])}</code></td>"
            f"<td>{'yes' if f.get('confirmed') else 'no'}</td>"
            f"<td>{float(f.get('confidence', 0)):.2f}</td>"
            f"<td>{_esc(_node_names(f.get('target_nodes', [])))}</td>"
            f"<td>{_esc(_node_names(f.get('source_nodes', [])))}</td>"
            f"<td>{effect}</td><td class=ev>{ev}</td></tr>")
    findings = ("<table><tr><th>#</th><th>code</th><th>confirmed</th><th>confidence</th>"
                "<th>target</th><th>source</th><th>discrepancy before &rarr; after patch</th>"
                "<th>evidence</th></tr>" + "".join(rows) + "</table>") if rows else \
        "<p>No findings.</p>"
    align = report.get("alignment") or {}
    errors = {e["match"]: e for e in report.get("errors", [])}
    mrows = []
    for i, m in enumerate(align.get("matches", [])):
        e = errors.get(i, {})
        prop, iso = e.get("propagated"), e.get("isolated")
        mrows.append(
            f"<tr><td>{i}</td><td>{_esc(_node_names(m.get('source_nodes', [])))}</td>"
            f"<td>{_esc(_node_names(m.get('target_nodes', [])))}</td><td>{_esc(m.get('kind'))}</td>"
            f"<td>{float(m.get('confidence', 0)):.2f}</td>"
            f"<td>{_esc(m.get('comparison', {}).get('transform'))}</td>"
            f"<td>{'' if prop is None else f'{prop:.3g}'}</td>"
            f"<td>{'' if iso is None else f'{iso:.3g}'}</td></tr>")
    unmatched = "".join(
        f"<li>{side}: {_esc(_node_names([n]))} ({_esc(n.get('op'))})</li>"
        for side in ("unmatched_source", "unmatched_target") for n in align.get(side, []))
    core_note = "" if report["core"]["available"] else (
        "<p class=warn>convmend._core.localize is not built: no parameter, hyperparameter or "
        "graph findings; the curve shows propagated errors only.</p>")
    native = (f", {lab['native_disagreeing']} natively" if "native_disagreeing" in lab else "")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>convmend localize: {_esc(Path(dst['path']).name)}</title>
{STYLE}</head><body>
<h1>convmend localize</h1>
<p>{_esc(report['tool'])}, {report['seconds']} s<br>
{_side('source', src)}<br>
{_side('target', dst)}<br>
{lab['images']} images ({report['images']['variants']} variants): top-1 differs on
{lab['ir_disagreeing']} in the IR{native}.</p>
{core_note}
<h2>Per-layer error</h2>
{error_curve_svg(report.get('errors', []), _marks(report))}
<h2>Findings</h2>
{findings}
<h2>Mapping</h2>
<table><tr><th>#</th><th>source</th><th>target</th><th>kind</th><th>confidence</th>
<th>comparison</th><th>propagated</th><th>isolated</th></tr>{''.join(mrows)}</table>
<ul>{unmatched}</ul>
</body></html>
"""


def write_html(path: str | Path, report: dict[str, Any]) -> None:
    """Render and write atomically."""
    write_bytes_atomically(path, render(report).encode("utf-8"))


def _score_cell(score: dict[str, Any] | None) -> str:
    if not score or "error" in score:
        return _esc((score or {}).get("error", "n/a"))[:160]
    rel = score.get("max_relative_error", score.get("relative_error"))
    return f"{score['disagreeing']} disagree, rel. error {float(rel):.3g}"


def render_repair(report: dict[str, Any]) -> str:
    """The repair report: what was tried, what was kept, and the proof before and after."""
    src, dst, out = report["inputs"]["source"], report["inputs"]["target"], report["output"]
    rows = []
    for s in report["steps"]:
        before, after = s.get("before"), s.get("after")
        effect = "" if not before or not after or after.get("disagreeing", -1) < 0 else (
            f"{_score_cell(before)} &rarr; {_score_cell(after)}")
        rows.append(
            f"<tr><td>{s.get('round', '')}</td><td><code>{_esc(s['code'])}</code></td>"
            f"<td>{'kept' if s.get('kept') else 'dropped'}</td>"
            f"<td>{_esc(_node_names(s.get('target_nodes', [])))}</td>"
            f"<td>{_esc(_node_names(s.get('source_nodes', [])))}</td>"
            f"<td class=ev>{'<br>'.join(_esc(e) for e in s.get('edits', []))}</td>"
            f"<td>{effect}</td><td class=ev>{_esc(s.get('reason', ''))}</td></tr>")
    ir = report["ir"]
    ir_line = (f"IR repair: {_esc(ir['error'])}" if "error" in ir else
               f"In convmend's IR: {_score_cell(ir['before'])} &rarr; "
               f"{_score_cell(ir['after'])} ({ir['rounds']} round(s): {_esc(ir['stopped'])}).")
    native = report.get("native") or {}
    native_rows = "".join(
        f"<tr><td>{label}</td><td>{_score_cell(native.get(key))}</td></tr>"
        for key, label in (("target", "target, as converted"), ("repaired", "repaired file")))
    remaining = "".join(f"<li><code>{_esc(f['code'])}</code> at "
                        f"{_esc(_node_names(f.get('target_nodes', [])))}</li>"
                        for f in report.get("remaining", []))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>convmend repair: {_esc(Path(dst['path']).name)}</title>
{STYLE}</head><body>
<h1>convmend repair: {_esc(report['status'])}</h1>
<p>{_esc(report['tool'])}, {report['seconds']} s<br>
{_side('source', src)}<br>
{_side('target', dst)}<br>
repaired: <code>{_esc(out['path'])}</code> (sha256 {_esc(out['sha256'][:16])}...)<br>
{report['images']['count']} images ({report['images']['variants']} variants),
{report['images']['validation']} of them decide which edits stay.</p>
<h2>Proof in the native runtimes (every image)</h2>
<table><tr><th>model</th><th>against the source</th></tr>{native_rows}</table>
<p>{ir_line}</p>
<h2>Edits tried</h2>
<table><tr><th>round</th><th>code</th><th>outcome</th><th>target</th><th>source</th>
<th>edits</th><th>validation batch</th><th>why</th></tr>{''.join(rows)}</table>
<h2>Not resolved</h2>
<ul>{remaining or '<li>nothing</li>'}</ul>
</body></html>
"""


def write_repair_html(path: str | Path, report: dict[str, Any]) -> None:
    write_bytes_atomically(path, render_repair(report).encode("utf-8"))
