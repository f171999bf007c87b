"""Deterministic zoo of source models and their conversions, cached on disk.

Use ``convmend.zoo.build`` (no framework is imported: every build runs in a subprocess)
and ``convmend.zoo.torch_models`` for the PyTorch architectures. Nothing is imported here
so that ``python -m convmend.zoo.build`` runs without a runpy double-import warning.
"""
