"""Alembic environment: the database comes from the caller's engine, the config URL or Settings."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from cloud.db.engine import create_engine
from cloud.db.tables import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("engine") is None:
    fileConfig(config.config_file_name)  # only when run by the `alembic` command itself


def _engine():
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine, False
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from cloud.settings import Settings

        url = Settings().database_url
    return create_engine(url), True


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from cloud.settings import Settings

        url = Settings().database_url
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine, owned = _engine()
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        if owned:
            engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
