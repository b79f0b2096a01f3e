"""Packaged terminology data (CTCAE tables, analytes, thresholds, code maps) and its converter."""

__all__: list[str] = []
