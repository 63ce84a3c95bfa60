"""Database schema (SQLAlchemy Core), engine factory and Alembic migrations."""
