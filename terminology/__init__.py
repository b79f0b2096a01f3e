"""Codes -> meaning: CTCAE tables, LOINC/RxNorm/UCUM maps, graders and timelines."""
