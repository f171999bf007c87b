"""Converters: a registry of the real converters, each run in a subprocess of its own.

``registry`` says what exists; ``execute`` runs one conversion or a chain and records the
outcome; the task modules (``builtin``, ``thirdparty``, ``legacy``) are what runs inside a
conversion's subprocess and are never imported by the parent.
"""
