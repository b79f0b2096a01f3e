"""Logging set-up (STUB: standard library defaults)."""

from __future__ import annotations

import logging

from service.settings import Settings

__all__ = ["configure_logging"]


def configure_logging(settings: Settings) -> None:
    """Configure the root logger from the settings."""
    logging.basicConfig(level=settings.log_level)
