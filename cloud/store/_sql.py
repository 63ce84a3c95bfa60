"""Dialect helpers shared by the store modules (INSERT ... ON CONFLICT on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: sa.Connection, table: sa.Table) -> Any:
    """A dialect INSERT that offers ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"database dialect {conn.dialect.name!r} is not supported")


def newer(table: sa.Table, excluded: Any) -> sa.ColumnElement[bool]:
    """True when the incoming row is newer by (time_ms, boot_id, seq) than the stored one."""
    return sa.tuple_(excluded.time_ms, excluded.boot_id, excluded.seq) > sa.tuple_(
        table.c.time_ms, table.c.boot_id, table.c.seq
    )
