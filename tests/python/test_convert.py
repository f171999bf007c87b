"""Converter registry, conversion outcomes (with deliberately failing converters), and the
`convert` and `diff` commands on real models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convmend.convert import execute, registry
from convmend.errors import ConvmendError
from small_models import tiny_onnx

FAILING = '''
import os, signal, sys, time, shutil
sys.path.insert(0, {task_dir!r})
import protocol

def boom(job):
    raise ValueError("unsupported layer Foo at node 7")

def abort(job):
    os.abort()

def hang(job):
    time.sleep(600)

def nothing(job):
    return {{"note": "wrote nothing"}}

def garbage(job):
    with open(job["out"], "wb") as f:
        f.write(b"not a model at all")
    return {{}}

def eat(job):
    block = bytearray(8 << 30)
    return {{"size": len(block)}}

def killed(job):  # what the kernel's out-of-memory killer does
    os.kill(os.getpid(), signal.SIGKILL)

def copy(job):
    shutil.copyfile(job["src"], job["out"])
    return {{"copied": True}}

TASKS = dict(boom=boom, abort=abort, hang=hang, nothing=nothing, garbage=garbage, eat=eat,
             killed=killed, copy=copy)
if __name__ == "__main__":
    sys.exit(protocol.main(TASKS, sys.argv))
'''


@pytest.fixture()
def failing_converters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "failing.py"
    script.write_text(FAILING.format(task_dir=str(registry.TASK_DIR)))
    entries = [{"name": f"test.{t}", "reads": "onnx", "writes": "onnx" if t == "copy" else
                "tflite", "script": str(script), "task": t} for t in
               ("boom", "abort", "hang", "nothing", "garbage", "eat", "killed", "copy")]
    listing = tmp_path / "converters.json"
    listing.write_text(json.dumps(entries))
    monkeypatch.setenv("CONVMEND_CONVERTERS", str(listing))
    monkeypatch.setenv("CONVMEND_CACHE", str(tmp_path / "cache"))
    return listing


# --------------------------------------------------------------------------- registry

def test_registry_lists_every_required_converter() -> None:
    names = {c.name for c in registry.converters()}
    for required in ("tflite_converter.keras", "tflite_converter.saved_model",
                     "tflite_converter.keras.optimize_default", "tf2onnx.keras.opset13",
                     "tf2onnx.keras.opset18", "tf2onnx.saved_model.opset18",
                     "tf2onnx.tflite.opset18", "torch.onnx.torchscript", "torch.onnx.dynamo",
                     "onnx2torch", "onnx2tf.saved_model", "onnx2tf.keras", "onnx2tf.tflite",
                     "nobuco", "litert_torch", "onnx_tf", "onnxmltools", "keras.export"):
        assert required in names
    lossy = [c.name for c in registry.converters() if c.lossy]
    assert sorted(lossy) == ["tflite_converter.keras.optimize_default",
                             "tflite_converter.saved_model.optimize_default"]


def test_chains_compose_and_never_revisit_a_format() -> None:
    chains = registry.chains("keras", "torch")
    assert [registry.chain_name(c) for c in chains] == [
        "onnxmltools > onnx2torch", "tf2onnx.keras.opset18 > onnx2torch"]
    for src in ("torch", "keras", "tf", "tflite"):
        for dst in registry.FORMATS:
            for chain in registry.chains(src, dst):
                formats = [chain[0].reads] + [c.writes for c in chain]
                assert len(set(formats)) == len(formats)
                assert all(not c.variant for c in chain[:-1])
                assert chain[0].reads == src and chain[-1].writes == dst
    first = registry.preferred_chains("keras", "tflite")[0]
    assert registry.chain_name(first) == "tflite_converter.keras"


def test_parse_chain_checks_each_link() -> None:
    chain = registry.parse_chain("tf2onnx.keras.opset18 > onnx2torch")
    assert [c.name for c in chain] == ["tf2onnx.keras.opset18", "onnx2torch"]
    with pytest.raises(ConvmendError, match="writes onnx but nobuco reads torch"):
        registry.parse_chain("tf2onnx.keras.opset18, nobuco")
    with pytest.raises(ConvmendError, match="unknown converter 'nope'"):
        registry.parse_chain("nope")


def test_bad_user_converter_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listing = tmp_path / "c.json"
    listing.write_text('{"not": "a list"}')
    monkeypatch.setenv("CONVMEND_CONVERTERS", str(listing))
    with pytest.raises(ConvmendError, match="must be a list"):
        registry.converters()


# --------------------------------------------------------------------------- outcomes

def test_every_failure_is_a_recorded_outcome(tmp_path: Path, failing_converters: Path) -> None:
    model = tiny_onnx(tmp_path / "tiny.onnx")
    before = model.read_bytes()
    probe = execute.probe_model(model)
    assert probe["format"] == "onnx" and probe["inputs"][0]["shape"] == [1, 3, 32, 32]
    expected = {"boom": "converter_error", "abort": "crash", "hang": "timeout",
                "nothing": "no_output", "garbage": "load_failed", "eat": "out_of_memory",
                "killed": "out_of_memory", "copy": "ok"}
    for task, status in expected.items():
        step = execute.convert_step(registry.get(f"test.{task}"), model, probe, timeout=5.0,
                                    memory_gb=3.0)
        assert step.status == status, (task, step)
        assert step.log is None or Path(step.log).exists()
    boom = execute.convert_step(registry.get("test.boom"), model, probe, timeout=5.0)
    assert boom.cached and "unsupported layer Foo at node 7" in boom.error
    # A memory outcome stands for the cap it ran under: the same cap reuses it, a higher one
    # runs the step again.
    eat = registry.get("test.eat")
    assert execute.convert_step(eat, model, probe, timeout=5.0, memory_gb=3.0).cached
    again = execute.convert_step(eat, model, probe, timeout=5.0, memory_gb=3.5)
    assert again.status == "out_of_memory" and not again.cached
    # A SIGKILL nobody sent is the machine's OOM killer, not the step: never reused.
    for _ in range(2):
        killed = execute.convert_step(registry.get("test.killed"), model, probe, timeout=5.0,
                                      memory_gb=3.0)
        assert "out-of-memory killer" in killed.error and not killed.cached
    copy = execute.convert_step(registry.get("test.copy"), model, probe)
    assert copy.cached and copy.probe["contract"]["origin"] == "handed on by test.copy"
    assert model.read_bytes() == before


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "convmend.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=900)


def test_convert_cli_reports_failures_without_traceback(tmp_path: Path,
                                                        failing_converters: Path) -> None:
    model = tiny_onnx(tmp_path / "tiny.onnx")
    out = tmp_path / "out.tflite"
    proc = _cli("convert", str(model), "--to", "tflite", "--via", "test.boom", "-o", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"convmend: error: no chain converted {model} to tflite (1 tried; see the logs above)"]
    assert "converter_error at test.boom: ValueError: unsupported layer Foo" in proc.stdout
    assert not out.exists()
    proc = _cli("convert", str(model), "--to", "tflite", "--via", "test.hang", "-o", str(out),
                "--timeout", "3")
    assert proc.returncode == 2 and "timeout at test.hang" in proc.stdout and not out.exists()


@pytest.mark.parametrize("case", ["unknown_format", "corrupt", "same_path", "bad_chain"])
def test_convert_cli_bad_input(tmp_path: Path, case: str) -> None:
    model = tiny_onnx(tmp_path / "tiny.onnx")
    if case == "unknown_format":
        (tmp_path / "m.xyz").write_bytes(b"x")
        args = [str(tmp_path / "m.xyz"), "--to", "onnx", "-o", str(tmp_path / "o.onnx")]
        message = "unknown model format for m.xyz"
    elif case == "corrupt":
        bad = tmp_path / "bad.onnx"
        bad.write_bytes(model.read_bytes()[:100])
        args = [str(bad), "--to", "tflite", "-o", str(tmp_path / "o.tflite")]
        message = "cannot load"
    elif case == "same_path":
        args = [str(model), "--to", "tflite", "-o", str(model)]
        message = "is also an input"
    else:
        args = [str(model), "--to", "torch", "--via", "onnx2tf.keras", "-o",
                str(tmp_path / "o.pt2")]
        message = "goes from onnx to keras, not from onnx to torch"
    proc = _cli("convert", *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("convmend: error:") and message in lines[0]


def test_convert_cli_names_a_swapped_input_layout(tmp_path: Path) -> None:
    """onnx2tf reads every 4-D ONNX input as NCHW: an NHWC model comes out taking
    [1, 32, 3, 32] (NWCH). convert hands on a contract in that layout, says so, and the
    converted model agrees with its source when each is fed by its own contract."""
    import importlib.util

    # not imported here: importing onnx2tf sets TF_USE_LEGACY_KERAS=1 for the whole process
    if importlib.util.find_spec("onnx2tf") is None:
        pytest.skip("onnx2tf is not installed")
    model = tiny_onnx(tmp_path / "tiny.onnx", nhwc=True)
    out = tmp_path / "out.tflite"
    proc = _cli("convert", str(model), "--to", "tflite", "--via", "onnx2tf.tflite",
                "-o", str(out), "--timeout", "600")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "it takes its images as nwch, a layout no framework uses" in proc.stdout
    assert "--input-fix bake" in proc.stdout
    from convmend.contract import contract_of

    contract = contract_of(out)
    assert contract.spec.layout == "nwch" and list(contract.input_shape) == [1, 32, 3, 32]
    report = tmp_path / "diff.json"
    proc = _cli("diff", str(model), str(out), "--count", "4", "--json", str(report))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(report.read_text())["summary"]
    assert summary["top1_agreement"] == 1.0 and summary["min_cosine"] > 0.99999, summary


# --------------------------------------------------------------------------- diff

def test_diff_bad_images(tmp_path: Path) -> None:
    model = tiny_onnx(tmp_path / "tiny.onnx")
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _cli("diff", str(model), str(model), "--images", str(empty))
    assert proc.returncode == 2 and "no images in" in proc.stderr
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "a.jpg").write_bytes(b"\xff\xd8\xff garbage")
    proc = _cli("diff", str(model), str(model), "--images", str(corrupt))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "a.jpg" in proc.stderr


def test_diff_of_a_model_with_itself(tmp_path: Path) -> None:
    model = tiny_onnx(tmp_path / "tiny.onnx")
    report = tmp_path / "diff.json"
    proc = _cli("diff", str(model), str(model), "--count", "6", "--json", str(report))
    assert proc.returncode == 0, proc.stderr
    document = json.loads(report.read_text())
    summary = document["summary"]
    assert summary["images"] == 6 and summary["top1_agreement"] == 1.0
    assert summary["max_abs_diff"] == 0.0 and summary["min_cosine"] == pytest.approx(1.0)
    assert len(document["images"]) == 6 and document["source"]["format"] == "onnx"


def test_weak_comparison_is_said() -> None:
    """A source that gives every image the same class, or softmax outputs saturated to 0/1,
    makes agreement say little; diff says so instead of reporting a clean 0."""
    from convmend.diff import weak_comparison

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8, 10)).astype(np.float32)
    assert weak_comparison(logits) == []
    same = logits.copy()
    same[:, 3] += 100.0
    assert weak_comparison(same) == [
        "the source predicts class 3 for all 8 images: label agreement is not informative"]
    onehot = np.zeros((8, 10), np.float32)
    onehot[np.arange(8), np.arange(8)] = 1.0
    (reason,) = weak_comparison(onehot)
    assert "saturated to 0/1 on 8 of 8 images" in reason
    soft = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert weak_comparison(soft) == []


def test_a_load_that_ran_out_of_time_is_redone_with_a_longer_limit() -> None:
    """A converted model that did not load within the check's time is a limit of the machine,
    not the converter's outcome: the record is reused only when its load limit was at least
    this run's (the step's timeout, at least PROBE_TIMEOUT); other failures stand."""
    step = {"status": "load_failed",
            "error": "cannot load m.keras: loading timed out after 600s"}
    old = {"limits": {"timeout": 1800.0, "memory_gb": 16.0}, "result": step}
    assert execute.load_timed_out(step)
    assert execute.load_timeout(1800.0) == 1800.0 and execute.load_timeout(5.0) == 600.0
    assert not execute._reusable(old, 1800.0, 16.0)  # recorded before the limit was kept
    assert execute._reusable(old, 60.0, 16.0)
    new = {"limits": dict(old["limits"], load_timeout=1800.0), "result": step}
    assert execute._reusable(new, 1800.0, 16.0)
    crashed = {"status": "load_failed", "error": "cannot load m.keras: the runtime crashed"}
    assert not execute.load_timed_out(crashed)
    assert execute._reusable({"limits": old["limits"], "result": crashed}, 1800.0, 16.0)
    cell = {"outcome": "load_failed", "status": "load_failed", "steps": [step]}
    assert execute.load_timed_out(cell)
