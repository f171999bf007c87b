"""convmend: find and fix what a deep-learning model converter broke."""

__version__ = "0.1.0"
