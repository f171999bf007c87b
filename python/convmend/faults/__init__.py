"""The fault vocabulary of /work/shared/FAULTS.md as data, and the fault-planting corpus
(``convmend.faults.plant``) that localization is measured on."""

from __future__ import annotations

STAGES = ("input", "converter", "param", "hparam", "graph", "runtime")

CODES = (
    "input.preprocess",
    "input.layout",
    "converter.crash",
    "converter.choice",
    "param.value",
    "param.layout",
    "param.declared_lossy",
    "hparam.padding",
    "hparam.stride_dilation",
    "hparam.norm",
    "hparam.pooling",
    "hparam.activation",
    "hparam.resize",
    "hparam.axis",
    "graph.missing_op",
    "graph.extra_op",
    "graph.wrong_op",
    "graph.outputs",
    "runtime.numeric",
)

# Findings that describe an expected or a non-model difference rather than a fault planted
# in (or made by a converter in) the target file.
BENIGN_CODES = ("runtime.numeric", "param.declared_lossy")


def stage_of(code: str) -> str:
    """``param.value`` -> ``param``."""
    return code.split(".", 1)[0]
