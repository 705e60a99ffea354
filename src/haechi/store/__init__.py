"""Persistence: SQLAlchemy 2 models and Alembic migrations (SQLite or PostgreSQL)."""

from haechi.store.db import Database

__all__ = ["Database"]
