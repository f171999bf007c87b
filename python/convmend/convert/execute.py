"""Running conversions: each step in a subprocess with a timeout and a memory cap, its log
kept, its outcome recorded; outputs cached so that chains and reruns share finished work.

An outcome is data, never an exception: ``ok``, ``converter_error`` (the converter raised
or exited non-zero), ``crash`` (killed by a signal), ``timeout``, ``out_of_memory``,
``no_output`` (finished without writing a model), ``load_failed`` (the written model does
not load or run in its own runtime) and ``unavailable`` (the converter is not installed).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from convmend.convert.check import RESULT_PREFIX, model_format
from convmend.convert.registry import SUFFIX, Converter, chain_name
from convmend.errors import ConvmendError
from convmend.fileio import remove_model, sha256_of, write_json

RECORD_VERSION = 2
DEFAULT_TIMEOUT = 1800.0
DEFAULT_MEMORY_GB = 10.0
PROBE_TIMEOUT = 600.0
OK = "ok"


@dataclasses.dataclass
class StepResult:
    converter: str
    status: str
    seconds: float = 0.0
    output: str | None = None
    error: str | None = None
    log: str | None = None
    notes: dict[str, Any] = dataclasses.field(default_factory=dict)
    probe: dict[str, Any] | None = None
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepResult:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


@dataclasses.dataclass
class ChainResult:
    chain: str
    steps: list[StepResult]

    @property
    def status(self) -> str:
        return self.steps[-1].status if self.steps else "empty"

    @property
    def output(self) -> str | None:
        return self.steps[-1].output if self.status == OK else None

    @property
    def failed_step(self) -> str | None:
        return next((s.converter for s in self.steps if s.status != OK), None)

    @property
    def seconds(self) -> float:
        return round(sum(s.seconds for s in self.steps), 2)

    def to_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "status": self.status, "failed_step": self.failed_step,
                "output": self.output, "seconds": self.seconds,
                "steps": [s.to_dict() for s in self.steps]}


def cache_root() -> Path:
    from convmend.zoo.build import cache_dir

    root = cache_dir() / "conversions"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""


def _result_line(stdout: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            try:
                found = json.loads(line[len(RESULT_PREFIX):])
            except ValueError:
                found = {}
    return found


def _limit_memory(limit_bytes: int) -> Any:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return apply


@dataclasses.dataclass
class Process:
    returncode: int | None  # None: timed out
    stdout: str
    stderr: str
    seconds: float


def run_process(command: Sequence[str], timeout: float, memory_gb: float | None,
                main_env: bool = True) -> Process:
    """Run a command in its own session (so a timeout kills its children too), capped in
    address space, with stdin closed."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["CUDA_VISIBLE_DEVICES"] = ""
    if main_env:
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    else:  # a side environment must not see the main environment's packages
        env.pop("PYTHONPATH", None)
    limit = _limit_memory(int(memory_gb * (1 << 30))) if memory_gb else None
    start = time.monotonic()
    proc = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=env,
                            start_new_session=True, preexec_fn=limit)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        code = None
    return Process(code, stdout or "", stderr or "", round(time.monotonic() - start, 2))


def probe_model(path: str | Path, timeout: float = PROBE_TIMEOUT,
                memory_gb: float | None = DEFAULT_MEMORY_GB) -> dict[str, Any]:
    """Load and run a model once in a subprocess; its inputs, outputs and contract.
    Raises ConvmendError with one line when it does not load."""
    model_format(path)  # an unknown format is the user's error, said before any work
    proc = run_process([sys.executable, "-m", "convmend.convert.check", str(path)],
                       timeout, memory_gb)
    result = _result_line(proc.stdout)
    if proc.returncode == 0 and "error" not in result:
        return result
    if proc.returncode is None:
        reason = f"loading timed out after {timeout:.0f}s"
    elif proc.returncode < 0:
        reason = f"the runtime crashed ({_signal_name(-proc.returncode)})"
    else:
        reason = result.get("error") or _last_line(proc.stderr) or f"exit {proc.returncode}"
    raise ConvmendError(f"cannot load {path}: {reason}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# What a step that hit its address-space cap leaves in its last words (Python, C++, libc).
_MEMORY_WORDS = ("MemoryError", "bad_alloc", "Cannot allocate memory")


def load_timeout(timeout: float) -> float:
    """Seconds the load check of a step's output gets: the step's own limit, at least
    PROBE_TIMEOUT (tf_keras takes minutes to rebuild onnx2tf's large Keras files)."""
    return max(PROBE_TIMEOUT, timeout)


def load_timed_out(result: dict[str, Any]) -> bool:
    """Whether a recorded step or cell failed because loading its output ran out of time
    (a limit of the machine's speed, not the converter's outcome)."""
    errors = [result.get("error")] + [s.get("error") for s in result.get("steps", [])
                                      if isinstance(s, dict)]
    return result.get("status", result.get("outcome")) == "load_failed" and any(
        "loading timed out" in (e or "") for e in errors)


def _reusable(record: dict[str, Any], timeout: float, memory_gb: float) -> bool:
    """A recorded outcome stands unless it was a limit that this run raises."""
    limits = record.get("limits", {})
    status = record["result"]["status"]
    if load_timed_out(record["result"]):
        return limits.get("load_timeout", PROBE_TIMEOUT) >= load_timeout(timeout)
    if status == "out_of_memory":  # the machine's OOM killer (SIGKILL) is not the step's cap
        return (limits.get("memory_gb", 0) >= memory_gb
                and "SIGKILL" not in (record["result"].get("error") or ""))
    if status == "timeout":
        return limits.get("timeout", 0) >= timeout
    return True


def _classify(proc: Process, result: dict[str, Any], timeout: float) -> tuple[str, str | None]:
    if proc.returncode is None:
        return "timeout", f"no result after {timeout:.0f}s; killed"
    if proc.returncode < 0:
        name = _signal_name(-proc.returncode)
        if -proc.returncode == signal.SIGKILL:  # not ours (a timeout is classified above)
            return "out_of_memory", ("killed by SIGKILL, most likely the kernel's out-of-memory "
                                     "killer (the machine ran out of memory): "
                                     + _last_line(proc.stderr))
        memory = any(word in proc.stderr for word in _MEMORY_WORDS)
        return ("out_of_memory" if memory else "crash"), f"killed by {name}: " + _last_line(
            proc.stderr)
    if proc.returncode != 0:
        error = result.get("error") or _last_line(proc.stderr) or f"exit {proc.returncode}"
        memory = any(word in error for word in _MEMORY_WORDS)
        return ("out_of_memory" if memory else "converter_error"), error
    return OK, None


@contextmanager
def _locked(path: Path):
    """One process builds an artifact at a time; the others wait and then reuse it."""
    lock = path.with_name(path.name + ".lock")
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)



def _source_identity(src: Path) -> str:
    """The sha256 of a source model, from its zoo record when it has one."""
    sidecar = Path(str(src) + ".json")
    if sidecar.exists():
        try:
            sha = json.loads(sidecar.read_text()).get("sha256")
            if sha:
                return sha
        except ValueError:
            pass
    return sha256_of(src)


def convert_step(
    converter: Converter,
    src: str | Path,
    source_probe: dict[str, Any],
    timeout: float = DEFAULT_TIMEOUT,
    memory_gb: float = DEFAULT_MEMORY_GB,
    reuse: bool = True,
) -> StepResult:
    """Run one converter on ``src`` (whose probe says its input and contract). The output
    and a record of the outcome live in the conversion cache, keyed by the source's hash,
    the converter, its options and its package versions; a matching record is reused."""
    src = Path(src)
    if source_probe.get("format") != converter.reads:
        raise ConvmendError(f"{converter.name} reads {converter.reads}, but {src} is "
                            f"{source_probe.get('format')}")
    why_not = converter.available()
    key = {"record": RECORD_VERSION, "converter": converter.name,
           "options": converter.option_dict, "versions": converter.versions(),
           "source_sha256": _source_identity(src)}
    folder = cache_root() / key["source_sha256"][:16]
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / (converter.name + SUFFIX[converter.writes])
    record_path = folder / (converter.name + ".outcome.json")
    if why_not:
        return StepResult(converter.name, "unavailable", error=why_not)
    with _locked(record_path):
        if reuse and record_path.exists():
            try:
                record = json.loads(record_path.read_text())
            except ValueError:
                record = {}
            if (record.get("key") == key and _reusable(record, timeout, memory_gb)
                    and (record["result"]["status"] != OK or out.exists())):
                step = StepResult.from_dict(record["result"])
                if step.probe and step.probe.get("contract") is None:
                    # Recorded before convmend knew this input's layout: hand it on again.
                    _hand_on(converter, source_probe, out, step.probe)
                    record["result"] = step.to_dict()
                    write_json(record_path, record)
                return dataclasses.replace(step, cached=True)
        result = _run_step(converter, src, source_probe, out, timeout, memory_gb)
        record_path.with_suffix(".tmp").write_text(
            json.dumps({"key": key, "limits": {"timeout": timeout, "memory_gb": memory_gb,
                                               "load_timeout": load_timeout(timeout)},
                        "result": result.to_dict()}, indent=2) + "\n")
        os.replace(record_path.with_suffix(".tmp"), record_path)
    return result


def _hand_on(converter: Converter, source_probe: dict[str, Any], out: Path,
             probe: dict[str, Any]) -> None:
    """The source's input contract adapted to the converted model's input (the layout the
    converter is known to make of it, else the one its input shape shows), written beside
    the model and into ``probe``; ``probe["contract"]`` is None, with the reason, when the
    source's photos cannot be fed to that input."""
    from convmend import contract as contracts

    first = probe["inputs"][0]
    try:
        source_contract = contracts.InputContract.from_dict(source_probe["contract"])
        handed = source_contract.for_input(
            first["name"], first["shape"], origin=f"handed on by {converter.name}",
            layout=converter.handed_layout(source_contract.spec.layout))
    except (ConvmendError, TypeError) as exc:
        probe["contract"] = None
        probe["contract_error"] = (f"input {first['name']} {first['shape']} does not take "
                                   f"the source's images: {exc}")
        return
    contracts.write_contract(out, handed)
    probe["contract"], probe["contract_error"] = handed.to_dict(), None


def _static(shape: Sequence[int | None]) -> list[int]:
    """An input shape as converters need it: batch 1, no unknown dimensions."""
    fixed = [1 if d is None or d < 0 else int(d) for d in shape]
    return [1, *fixed[1:]] if fixed else fixed


def _run_step(converter: Converter, src: Path, source_probe: dict[str, Any], out: Path,
              timeout: float, memory_gb: float) -> StepResult:

    log = out.with_name(out.name + ".log")
    tmp = out.with_name(f".{out.stem}.tmp-{uuid.uuid4().hex[:8]}{out.suffix}")
    job = {"task": converter.task, "src": str(src), "out": str(tmp),
           "options": converter.option_dict,
           "model": {"input_shape": _static(source_probe["inputs"][0]["shape"]),
                     "input_layout": source_probe["contract"]["spec"].get("layout")}}
    command = [str(converter.python()), str(converter.script()), json.dumps(job)]
    remove_model(out)
    try:
        proc = run_process(command, timeout, memory_gb, main_env=converter.env == "main")
        log.write_text(f"$ {' '.join(command[:2])} '<job>'\njob: {json.dumps(job)}\n"
                       f"exit: {proc.returncode}  seconds: {proc.seconds}\n"
                       f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
        result = _result_line(proc.stdout)
        status, error = _classify(proc, result, timeout)
        step = StepResult(converter.name, status, proc.seconds, error=error, log=str(log),
                          notes={k: v for k, v in result.items() if k != "error"})
        if status != OK:
            return step
        if not tmp.exists():
            step.status, step.error = "no_output", "the converter reported success but wrote " \
                                                   "no model"
            return step
        os.replace(tmp, out)
        try:
            probe = probe_model(out, load_timeout(timeout), memory_gb)
        except ConvmendError as exc:
            step.status, step.error = "load_failed", str(exc)
            return step
        step.output, step.probe = str(out), probe
        _hand_on(converter, source_probe, out, probe)
        return step
    finally:
        remove_model(tmp)


def convert_chain(
    chain: Sequence[Converter],
    src: str | Path,
    source_probe: dict[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    memory_gb: float = DEFAULT_MEMORY_GB,
    reuse: bool = True,
) -> ChainResult:
    """Each step on the previous step's output; stops at the first step that fails."""
    current = Path(src)
    probe = source_probe or probe_model(current, memory_gb=memory_gb)
    steps: list[StepResult] = []
    for converter in chain:
        if probe.get("contract") is None:  # the previous output takes no images as they are
            steps.append(StepResult(converter.name, "input_mismatch",
                                    error=probe.get("contract_error")))
            break
        step = convert_step(converter, current, probe, timeout, memory_gb, reuse)
        steps.append(step)
        if step.status != OK or step.output is None or step.probe is None:
            break
        current, probe = Path(step.output), step.probe
    return ChainResult(chain_name(chain), steps)
