"""Static assets, page files and sample CDS Hooks requests of toxhooks' web pages."""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLES_DIR", "STATIC_DIR", "WEB_DIR"]

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
SAMPLES_DIR = WEB_DIR / "samples"
