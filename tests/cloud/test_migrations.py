"""Alembic migrations from the package: upgrade works twice and matches the Core metadata."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from cloud.db.engine import create_engine
from cloud.db.migrate import MIGRATIONS_DIR, alembic_config, current_revision, upgrade
from cloud.db.tables import metadata
from cloud.settings import normalise_database_url


def test_head_matches_the_metadata(engine: Engine) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    eng = create_engine(db_url)
    try:
        upgrade(eng)
        upgrade(eng)
        assert current_revision(eng) is not None
    finally:
        eng.dispose()


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("*.py"))


def test_postgres_urls_use_psycopg() -> None:
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_concurrent_migrations_take_turns(db_url: str) -> None:
    """Two workers starting at once must not both create the schema."""
    import threading

    from cloud.db.engine import create_engine
    from cloud.db.migrate import current_revision, upgrade

    engines = [create_engine(db_url) for _ in range(3)]
    errors: list[BaseException] = []

    def migrate(engine):  # type: ignore[no-untyped-def]
        try:
            upgrade(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert current_revision(engines[0]) is not None
    for e in engines:
        e.dispose()
