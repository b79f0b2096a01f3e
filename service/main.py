"""ASGI entry point for uvicorn workers: the app built from the environment's settings."""

from __future__ import annotations

from fastapi import FastAPI

from service.app import create_app
from service.settings import get_settings

__all__ = ["app_from_env"]


def app_from_env() -> FastAPI:
    """create_app with TOXHOOKS_* settings (uvicorn --factory service.main:app_from_env)."""
    return create_app(get_settings())
