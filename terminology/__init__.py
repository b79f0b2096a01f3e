"""Codes -> meaning: CTCAE tables, LOINC/RxNorm/UCUM maps, graders and timelines."""

__all__: list[str] = []
