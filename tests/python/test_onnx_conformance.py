"""ONNX's backend node test cases (shipped in the onnx wheel) run through convmend's reader
and interpreter. Every case must pass unless tests/onnx_conformance_exclusions.txt lists it
with a reason; a listed case that starts passing is reported too, so the list stays honest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

from convmend import engine  # noqa: E402
from convmend.errors import ConvmendError  # noqa: E402

NODE_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"
EXCLUSIONS = Path(__file__).resolve().parents[1] / "onnx_conformance_exclusions.txt"


def load_exclusions() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in EXCLUSIONS.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        assert reason.strip(), f"exclusion of {name} gives no reason"
        out[name] = reason.strip()
    return out


def case_names() -> list[str]:
    if not NODE_DIR.is_dir():
        return []
    return sorted(p.name for p in NODE_DIR.iterdir() if (p / "model.onnx").exists())


def read_pbs(folder: Path, prefix: str) -> list[np.ndarray]:
    files = sorted(folder.glob(f"{prefix}_*.pb"), key=lambda p: int(p.stem.split("_")[-1]))
    arrays = []
    for f in files:
        t = onnx.TensorProto()
        t.ParseFromString(f.read_bytes())
        arrays.append(numpy_helper.to_array(t))
    return arrays


def run_case(name: str) -> None:
    """Raises on any failure: load, run, or a mismatch against the expected outputs."""
    folder = NODE_DIR / name
    graph = engine.load(folder / "model.onnx")
    interp = engine.Interpreter(graph)
    for data_set in sorted(folder.glob("test_data_set_*")):
        inputs = read_pbs(data_set, "input")
        expected = read_pbs(data_set, "output")
        outputs = interp.run(inputs)
        assert len(outputs) == len(expected), f"{len(outputs)} outputs, expected {len(expected)}"
        for got, want in zip(outputs, expected, strict=True):
            assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}"
            assert got.dtype == want.dtype, f"dtype {got.dtype}, expected {want.dtype}"
            if want.dtype.kind in "fc":
                np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-7)
            else:
                np.testing.assert_array_equal(got, want)


CASES = case_names()
EXCLUDED = load_exclusions() if EXCLUSIONS.exists() else {}


@pytest.mark.parametrize("name", [c for c in CASES if c not in EXCLUDED])
def test_node_case(name: str) -> None:
    run_case(name)


def test_exclusions_are_still_needed() -> None:
    """An excluded case that passes now must leave the list; an excluded case for an
    unsupported op must still be refused with the list of unsupported ops."""
    now_passing = []
    for name, reason in EXCLUDED.items():
        if name not in CASES:
            continue
        try:
            run_case(name)
        except (ConvmendError, AssertionError, ValueError, TypeError):
            continue
        now_passing.append(f"{name} ({reason})")
    assert not now_passing, "these excluded cases pass now: " + ", ".join(now_passing)


def test_counts_reported() -> None:
    """Keeps the counts visible in the test log (and fails if the suite is missing)."""
    assert CASES, f"no ONNX backend node cases under {NODE_DIR}"
    passing = len([c for c in CASES if c not in EXCLUDED])
    print(f"\nONNX node cases: {len(CASES)}, run: {passing}, excluded: {len(EXCLUDED)}")
