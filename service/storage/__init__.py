"""Durable storage: issued cards and feedback, SQLAlchemy 2 async on SQLite (WAL) or PostgreSQL."""
