"""The single exception type users see.

The CLI catches ``ConvmendError`` and prints its message as one line with a non-zero exit;
anything else is a bug and keeps its traceback. The C++ binding maps its Status errors
onto this type too, so callers never need to know which layer failed.
"""

from __future__ import annotations


class ConvmendError(Exception):
    """A user-facing failure whose message names the file, model, node or converter."""
