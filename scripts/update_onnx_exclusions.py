"""Rewrites tests/onnx_conformance_exclusions.txt from a run of every ONNX backend node case.

Each failing case gets one line, `case_name reason`, grouped under a `#` heading per category.
Reasons come from the failure itself (the ops the importer refuses, the dtype it cannot read,
the op the kernel refuses) or, for numeric mismatches, from SEMANTIC_REASONS below, which says
what was investigated. A failure that matches no rule is printed and makes the script exit 1
without writing, so that every new failure is looked at before it is excluded.

    .venv/bin/python scripts/update_onnx_exclusions.py [--check]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

import onnx  # noqa: E402

import test_onnx_conformance as conformance  # noqa: E402

EXCLUSIONS = conformance.EXCLUSIONS

# Numeric mismatches and other failures whose message alone does not say why; each one was
# investigated by hand.
ALIGN_CORNERS = (
    "Resize align_corners with a fractional output length: the ONNX reference divides by "
    "in*scale-1 (2.4-1), convmend and ONNX Runtime by the integer output length-1 (checked)"
)
SEMANTIC_REASONS: dict[str, tuple[str, str]] = {
    "test_resize_downsample_scales_cubic_align_corners": ("Semantic differences", ALIGN_CORNERS),
    "test_resize_downsample_scales_linear_align_corners": ("Semantic differences", ALIGN_CORNERS),
}

# (heading, pattern on the error message, reason template using the match's groups)
MESSAGE_RULES: list[tuple[str, str, str]] = [
    ("Data types the IR does not have", r"ONNX data type (\w+) is not supported",
     "dtype {0} not supported by the IR"),
    ("Non-tensor types", r"has type (sequence|optional|map)_type",
     "{0} types not supported by the IR (tensors only)"),
    ("Non-tensor types", r"TypeProto attributes are not supported",
     "TypeProto attribute (Optional/If on optional types) not supported by the reader"),
    ("Training-mode ops", r"\(BatchNormalization\): training_mode=1",
     "BatchNormalization training_mode=1 not supported (inference only)"),
    ("Training-mode ops", r"\(Dropout\): the mask output",
     "Dropout mask output not implemented"),
    ("Training-mode ops", r"\(Dropout\): training_mode is not a constant false",
     "Dropout training_mode is a graph input, not a constant false: training-mode Dropout "
     "(random mask) not implemented"),
    ("Kernel dtype gaps", r"\((\w+)\): inputs \([^)]*\): \1 does not support dtype (\w+)",
     "{0} does not support dtype {1}"),
    ("Kernel dtype gaps", r"(\w+) does not support dtype (\w+) \(",
     "{0} does not support dtype {1}"),
    ("Op features not implemented", r"(\w+) input \[[\d,]*\] has rank (\d); only 2-D",
     "{0} on a rank-{1} input: only 2-D (4-D tensor) {0} is implemented"),
    ("Op features not implemented", r"(\w+) dilations \[[\d,]*\] are not supported",
     "{0} dilations not implemented"),
    ("Op features not implemented", r"(\w+) with block_size \d+ \(blocked quantization\)",
     "{0} blocked quantization (block_size) not implemented"),
    ("Op features not implemented", r"\(MaxPool\): the Indices output",
     "MaxPool Indices output not implemented"),
    ("Op features not implemented", r"Pad mode '(\w+)' is not supported",
     "Pad mode '{0}' not implemented"),
    ("Op features not implemented", r"Resize antialias is not supported",
     "Resize antialias not implemented"),
    ("Op features not implemented", r"Resize axes is not supported",
     "Resize axes attribute not implemented"),
    ("Op features not implemented", r"Resize coordinate_transformation_mode '(\w+)' is not",
     "Resize coordinate_transformation_mode '{0}' not implemented"),
    ("Op features not implemented", r"Resize keep_aspect_ratio_policy '(\w+)' is not",
     "Resize keep_aspect_ratio_policy '{0}' not implemented"),
]

UNSUPPORTED_OPS = re.compile(r"unsupported ONNX ops \(opset \d+\): (.*)")


def model_domains(name: str) -> set[str]:
    model = onnx.load(conformance.NODE_DIR / name / "model.onnx", load_external_data=False)
    return {o.domain for o in model.opset_import if o.domain not in ("", "ai.onnx")}


def classify(name: str, message: str) -> tuple[str, str] | None:
    """(heading, reason) for a failing case, or None when no rule explains it."""
    if name in SEMANTIC_REASONS:
        return SEMANTIC_REASONS[name]
    if "imports no default-domain opset" in message:
        domains = model_domains(name)
        if "ai.onnx.preview.training" in domains:
            return "Other domains", "training op (ai.onnx.preview.training)"
        return "Other domains", "domain " + ", ".join(sorted(domains)) + " not supported"
    m = UNSUPPORTED_OPS.search(message)
    if m:
        ops = [entry.rsplit(" x", 1)[0] for entry in m.group(1).split(", ")]
        label = "unsupported op: " if len(ops) == 1 else "unsupported op(s): "
        reason = label + ", ".join(ops)
        if "_expanded" in name:
            reason += " (in the expanded function body)"
            return "Unsupported ops (in expanded function bodies)", reason
        return "Unsupported ops", reason
    for heading, pattern, template in MESSAGE_RULES:
        m = re.search(pattern, message)
        if m:
            return heading, template.format(*m.groups())
    return None


def run_all() -> dict[str, str | None]:
    """Maps each case to None when it passes, else to its error message."""
    results: dict[str, str | None] = {}
    for name in conformance.CASES:
        try:
            conformance.run_case(name)
            results[name] = None
        except Exception as e:  # noqa: BLE001 - every failure is classified below
            results[name] = f"{type(e).__name__}: {e}"
    return results


HEADING_ORDER = [
    "Unsupported ops",
    "Unsupported ops (in expanded function bodies)",
    "Other domains",
    "Data types the IR does not have",
    "Non-tensor types",
    "Kernel dtype gaps",
    "Op features not implemented",
    "Training-mode ops",
    "Semantic differences",
]


def render(groups: dict[str, list[tuple[str, str]]], total: int, passing: int) -> str:
    lines = [
        "# ONNX backend node cases that convmend does not pass, one per line: `case reason`.",
        "# Generated by scripts/update_onnx_exclusions.py; rerun it after a fix.",
        f"# {total} cases, {passing} pass, {total - passing} excluded.",
    ]
    for heading in HEADING_ORDER + sorted(set(groups) - set(HEADING_ORDER)):
        if heading not in groups:
            continue
        lines += ["", f"# {heading} ({len(groups[heading])})"]
        lines += [f"{name} {reason}" for name, reason in sorted(groups[heading])]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only report; exit 1 when the file on disk differs")
    args = parser.parse_args()

    results = run_all()
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    unexplained = []
    for name, message in results.items():
        if message is None:
            continue
        verdict = classify(name, message)
        if verdict is None:
            unexplained.append(f"{name}: {message[:300]}")
            continue
        groups[verdict[0]].append((name, verdict[1]))
    if unexplained:
        print("failures no rule explains (investigate, then add a rule or a SEMANTIC_REASONS "
              "entry):", file=sys.stderr)
        print("\n".join(unexplained), file=sys.stderr)
        return 1
    passing = sum(1 for m in results.values() if m is None)
    text = render(groups, len(results), passing)
    for heading in HEADING_ORDER:
        if heading in groups:
            print(f"{len(groups[heading]):5d}  {heading}")
    print(f"{len(results)} cases, {passing} pass, {len(results) - passing} excluded")
    if args.check:
        same = EXCLUSIONS.exists() and EXCLUSIONS.read_text() == text
        print("exclusion file is up to date" if same else "exclusion file is out of date")
        return 0 if same else 1
    EXCLUSIONS.write_text(text)
    print(f"wrote {EXCLUSIONS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
