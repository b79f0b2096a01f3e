"""Meaning -> decisions -> cards: knowledge files, rule engine, card building."""
