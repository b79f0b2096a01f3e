"""Alembic migrations of the toxhooks schema, shipped inside the package."""
