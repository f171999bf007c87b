"""Deterministic zoo of source models and their conversions, cached on disk."""
