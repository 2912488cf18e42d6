"""The database: one async engine and session factory, SQLite or PostgreSQL, and its migrations."""

from hub.db.database import Database

__all__ = ["Database"]
