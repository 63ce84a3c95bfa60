"""Cloud settings: one typed class read from ``FLEETWIRE_*`` environment variables (and ``.env``).

Nothing is read at import time; the CLI builds ``Settings()`` and hands it to
``create_app(settings)``, the consumer and the migrations.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from wire.topics import check_id

DEFAULT_DATABASE_URL = "sqlite:///./data/cloud.db"


def normalise_database_url(url: str) -> str:
    """Map ``postgres://`` / ``postgresql://`` to the psycopg 3 driver SQLAlchemy should use."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """Configuration of the cloud service; every field is ``FLEETWIRE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="FLEETWIRE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL; SQLite file by default, postgresql:// for PostgreSQL.",
    )
    mqtt_url: str = Field(
        "",
        description="mqtt://host:port of the broker; empty runs the embedded broker (`run` only).",
    )
    embedded_broker_port: int = Field(1883, description="TCP port of the embedded broker.")
    api_host: str = Field("127.0.0.1", description="Address the HTTP API binds to.")
    api_port: int = Field(8080, description="TCP port of the HTTP API.")
    default_fleet: str = Field("default", description="Fleet used when X-Fleet-Id is absent.")
    shared_subscription: bool = Field(
        False, description="Subscribe as $share/fleetwire-ingest/... (MQTT 5) to run N workers."
    )
    ingest_client_id: str = Field(
        "fleetwire-ingest",
        description="Stable MQTT client id of the consumer: its persistent session holds "
        "messages while it is down. Give each worker its own.",
    )
    ingest_fleet: str = Field(
        "+",
        description="Fleet whose devices the consumer subscribes to; '+' (default) = every fleet.",
    )
    mqtt_session_expiry_s: int = Field(
        7 * 24 * 3600, description="MQTT 5 session expiry (seconds) of the consumer's session."
    )
    log_level: str = Field("INFO", description="Python log level (DEBUG, INFO, WARNING, ...).")
    webhook_poll_s: float = Field(
        1.0, gt=0, description="How often the webhook delivery worker looks for due deliveries (s)."
    )
    webhook_max_attempts: int = Field(
        15, ge=1, description="Webhook attempts (exponential backoff) before a delivery is dead."
    )
    alerts_mqtt_topic_enabled: bool = Field(
        True, description="Publish alert events to fw/v1/{fleet}/alerts when a broker is known."
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("ingest_fleet")
    @classmethod
    def _check_fleet(cls, value: str) -> str:
        if value != "+":
            check_id("fleet", value)
        return value

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level
