"""How a conversion subprocess talks to its parent. Standard library only: the task
modules are run as scripts (``python <module>.py '<json job>'``), some of them by the
Python of a converter's own environment where convmend is not installed.

A job is a JSON object with at least ``task``, ``src`` (the input model: a file, or a
SavedModel directory), ``out`` (where to write: a temp name the parent renames) and
``options``; ``model`` describes the source's input (``input_shape``, ``input_layout``).
The task returns a dict of notes, printed as one ``CONVMEND_RESULT <json>`` line.

Exit codes: 0 done; 3 the converter raised an exception (its traceback is on stderr);
anything else (a signal, an abort in native code) is a crash.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

RESULT_PREFIX = "CONVMEND_RESULT "
CONVERTER_ERROR_EXIT = 3

Task = Callable[[dict[str, Any]], dict[str, Any]]


def main(tasks: Mapping[str, Task], argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} '<json job>'", file=sys.stderr)
        return 2
    job = json.loads(argv[1])
    task = tasks.get(job.get("task", ""))
    if task is None:
        print(f"unknown task {job.get('task')!r}; known: {', '.join(tasks)}", file=sys.stderr)
        return 2
    try:
        notes = task(job)
    except Exception as exc:  # the converter's own failure: an outcome, reported upward
        traceback.print_exc()
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        print(RESULT_PREFIX + json.dumps({"error": message}), flush=True)
        return CONVERTER_ERROR_EXIT
    print(RESULT_PREFIX + json.dumps(notes or {}), flush=True)
    return 0
