"""``fleetwire-cloud``: run the API, the MQTT ingest or both; migrate; dump the OpenAPI document.

Each command reads ``Settings`` (``FLEETWIRE_*`` environment), calls one library entry
point and turns failures into a one-line message and an exit code (0 ok, 1 failure,
2 bad usage or configuration).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from cloud.logs import configure_logging, kv

log = logging.getLogger("cloud.cli")

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
fleetwire cloud service: stores what the vehicles' agents publish over MQTT and serves it
over HTTP. Configuration comes from FLEETWIRE_* environment variables (or a .env file);
the options below override the most common ones.

  FLEETWIRE_DATABASE_URL   sqlite:///./data/cloud.db (default) or postgresql://user@host/db
  FLEETWIRE_MQTT_URL       mqtt://host:1883 (empty: `run` starts an embedded broker)
  FLEETWIRE_API_HOST/PORT  127.0.0.1 / 8080
  FLEETWIRE_DEFAULT_FLEET  fleet used when a request has no X-Fleet-Id header
"""

EPILOG = """\
examples:
  fleetwire-cloud run                         # demo: broker + ingest + API in one process
  FLEETWIRE_MQTT_URL=mqtt://127.0.0.1:1883 fleetwire-cloud ingest
  FLEETWIRE_DATABASE_URL=postgresql://postgres@127.0.0.1/fleet fleetwire-cloud migrate
  fleetwire-cloud openapi > openapi.json
  fleetwire-cloud hos evaluate duty_log.json
  fleetwire-cloud deliver                     # webhook/MQTT alert delivery worker only
"""


class CliError(Exception):
    """A failure to report in one line (exit code 1)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetwire-cloud",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", help="override FLEETWIRE_DATABASE_URL")
    parser.add_argument("--log-level", help="override FLEETWIRE_LOG_LEVEL (DEBUG, INFO, ...)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add(
        "serve", "Serve the HTTP API only (migrates first).", "fleetwire-cloud serve --port 8080"
    )
    _api_options(p)
    p = add(
        "ingest",
        "Run the MQTT ingest only: subscribe, store, acknowledge after commit (migrates first).",
        "FLEETWIRE_MQTT_URL=mqtt://127.0.0.1:1883 fleetwire-cloud ingest",
    )
    _mqtt_options(p)
    p = add(
        "run",
        "All in one for a demo: embedded MQTT broker (when no MQTT URL), ingest and API.",
        "fleetwire-cloud run --broker-port 1884 --port 8080",
    )
    _api_options(p)
    _mqtt_options(p)
    p.add_argument("--broker-port", type=int, help="embedded broker port (default 1883)")
    p = add(
        "deliver",
        "Run only the alert delivery worker: webhooks from the outbox (and the MQTT alerts "
        "topic when FLEETWIRE_MQTT_URL is set).",
        "FLEETWIRE_DATABASE_URL=postgresql://postgres@127.0.0.1/fleet fleetwire-cloud deliver",
    )
    _mqtt_options(p)
    p = add("migrate", "Create or upgrade the database schema.", "fleetwire-cloud migrate")
    p.add_argument("--revision", default="head", help="target revision (default: head)")
    p = add(
        "openapi",
        "Print the OpenAPI document of the API (the same as GET /openapi.json).",
        "fleetwire-cloud openapi > openapi.json",
    )
    p.add_argument("--indent", type=int, default=2, help="JSON indentation (default 2)")
    p = add("hos", "Hours-of-service tools.", "fleetwire-cloud hos evaluate duty_log.json")
    hos_sub = p.add_subparsers(dest="hos_command", required=True, metavar="HOS_COMMAND")
    e = hos_sub.add_parser(
        "evaluate",
        help="Evaluate a duty-status log file against the HOS rules.",
        description="Evaluate a duty-status log file against the HOS rules; further "
        "arguments are passed on to the evaluator.",
        epilog="example:\n  fleetwire-cloud hos evaluate duty_log.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("file", help="duty-status log (see docs for the format)")
    e.add_argument("rest", nargs=argparse.REMAINDER, help="options for the evaluator")
    return parser


def _api_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="override FLEETWIRE_API_HOST (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="override FLEETWIRE_API_PORT (default 8080)")


def _mqtt_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mqtt-url", help="override FLEETWIRE_MQTT_URL, e.g. mqtt://127.0.0.1:1883")
    p.add_argument("--client-id", help="override FLEETWIRE_INGEST_CLIENT_ID (stable per worker)")


def load_settings(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from cloud.settings import Settings

    overrides = {
        "database_url": args.database_url,
        "log_level": args.log_level,
        "api_host": getattr(args, "host", None),
        "api_port": getattr(args, "port", None),
        "mqtt_url": getattr(args, "mqtt_url", None),
        "ingest_client_id": getattr(args, "client_id", None),
        "embedded_broker_port": getattr(args, "broker_port", None),
    }
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise ValueError(f"invalid setting {where}: {first.get('msg')}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "hos":
        return _hos(args)
    try:
        settings = load_settings(args)
    except ValueError as exc:
        print(f"fleetwire-cloud: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "openapi":
        return _openapi(settings, args.indent)
    configure_logging(settings.log_level)
    try:
        if args.command == "migrate":
            _migrate(settings, args.revision)
            print(f"database at revision {args.revision}: {_safe_url(settings.database_url)}")
            return EXIT_OK
        if args.command == "serve":
            return _serve(settings)
        if args.command == "ingest":
            return _ingest(settings)
        if args.command == "run":
            return _run(settings)
        if args.command == "deliver":
            return _deliver(settings)
    except CliError as exc:
        print(f"fleetwire-cloud {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return EXIT_OK
    parser.error(f"unknown command {args.command!r}")
    return EXIT_USAGE


# ---------------------------------------------------------------- commands
def _openapi(settings: Any, indent: int) -> int:
    from cloud.api.app import create_app

    print(json.dumps(create_app(settings).openapi(), indent=indent or None))
    return EXIT_OK


def _hos(args: argparse.Namespace) -> int:
    try:
        from cloud.processors.hos.cli import main as hos_main
    except ImportError as exc:
        print(f"fleetwire-cloud hos: the HOS evaluator is not available: {exc}", file=sys.stderr)
        return EXIT_FAIL
    return int(hos_main([args.file, *args.rest]))


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _open_engine(settings: Any) -> Any:
    import sqlalchemy as sa

    from cloud.db.engine import create_engine

    try:
        engine = create_engine(settings.database_url)
        with engine.connect():
            pass
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        raise CliError(
            f"cannot open database {_safe_url(settings.database_url)}: {str(exc).splitlines()[0]}"
        ) from None
    return engine


def _migrate(settings: Any, revision: str = "head", engine: Any = None) -> None:
    import sqlalchemy as sa
    from alembic.util import CommandError

    from cloud.db.migrate import upgrade

    engine = engine or _open_engine(settings)
    try:
        upgrade(engine, revision)
    except (CommandError, sa.exc.SQLAlchemyError) as exc:
        raise CliError(f"migration failed: {str(exc).splitlines()[0]}") from None


def _make_consumer(settings: Any, engine: Any, metrics: Any, broker_url: str) -> Any:
    from cloud.ingest.consumer import BrokerAddress, IngestConsumer
    from cloud.ingest.handler import IngestHandler

    try:
        address = BrokerAddress.from_url(broker_url)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return IngestConsumer(
        IngestHandler(engine, metrics),
        address,
        settings.ingest_client_id,
        shared=settings.shared_subscription,
        session_expiry_s=settings.mqtt_session_expiry_s,
        metrics=metrics,
        fleet=settings.ingest_fleet,
    )


def _uvicorn(app: Any, settings: Any) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
    )
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM and then re-raises the signal; make
    # SIGTERM behave like Ctrl-C so our own clean-up (consumer, broker, engine) still runs.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    server.run()
    if not server.started:
        raise CliError(f"the API could not listen on {settings.api_host}:{settings.api_port}")


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _start_delivery(settings: Any, engine: Any, broker_url: str) -> Any:
    """Start the alert delivery worker thread (webhooks; MQTT alerts topic when a broker is known)."""
    from cloud.alerts.delivery import DeliveryWorker, RetryPolicy

    publisher = None
    if broker_url and settings.alerts_mqtt_topic_enabled:
        from cloud.alerts.mqtt_out import AlertsMqttPublisher

        try:
            publisher = AlertsMqttPublisher.from_url(
                broker_url, f"{settings.ingest_client_id}-alerts"
            )
        except (ValueError, OSError) as exc:
            log.warning(kv("alerts_mqtt_disabled", error=str(exc)))
    worker = DeliveryWorker(
        engine,
        poll_s=settings.webhook_poll_s,
        policy=RetryPolicy(max_attempts=settings.webhook_max_attempts),
        mqtt_publisher=publisher,
    )
    worker.start()
    return worker


def _stop_delivery(worker: Any) -> None:
    worker.stop()
    if worker.mqtt_publisher is not None:
        worker.mqtt_publisher.close()


def _deliver(settings: Any) -> int:
    engine = _open_engine(settings)
    _migrate(settings, engine=engine)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    worker = _start_delivery(settings, engine, settings.mqtt_url)
    log.info(kv("delivery_started", poll_s=settings.webhook_poll_s))
    try:
        done.wait()
    finally:
        _stop_delivery(worker)
        engine.dispose()
    return EXIT_OK


def _serve(settings: Any) -> int:
    from cloud.api.app import create_app
    from cloud.metrics import Metrics

    engine = _open_engine(settings)
    _migrate(settings, engine=engine)
    print(f"API on http://{settings.api_host}:{settings.api_port}  (docs: /docs)", flush=True)
    worker = _start_delivery(settings, engine, settings.mqtt_url)
    try:
        _uvicorn(create_app(settings, engine=engine, metrics=Metrics()), settings)
    finally:
        _stop_delivery(worker)
        engine.dispose()
    return EXIT_OK


def _ingest(settings: Any) -> int:
    from cloud.metrics import Metrics

    if not settings.mqtt_url:
        raise CliError("no broker configured: set FLEETWIRE_MQTT_URL (or use `run` for a demo)")
    engine = _open_engine(settings)
    _migrate(settings, engine=engine)
    consumer = _make_consumer(settings, engine, Metrics(), settings.mqtt_url)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    consumer.start()
    log.info(kv("ingest_started", broker=settings.mqtt_url, client_id=settings.ingest_client_id))
    try:
        done.wait()
    finally:
        consumer.stop()
        engine.dispose()
    return EXIT_OK


def _run(settings: Any) -> int:
    from cloud.api.app import create_app
    from cloud.metrics import Metrics

    engine = _open_engine(settings)
    _migrate(settings, engine=engine)
    broker = None
    broker_url = settings.mqtt_url
    if not broker_url:
        from cloud.broker import EmbeddedBroker

        broker = EmbeddedBroker("127.0.0.1", settings.embedded_broker_port)
        try:
            broker.start()
        except RuntimeError as exc:
            raise CliError(
                f"{exc} (is another broker on that port? set --broker-port or --mqtt-url)"
            ) from None
        broker_url = f"mqtt://127.0.0.1:{settings.embedded_broker_port}"
    metrics = Metrics()
    consumer = _make_consumer(settings, engine, metrics, broker_url)
    consumer.start()
    worker = _start_delivery(settings, engine, broker_url)
    try:
        if not consumer.wait_connected(10):
            log.warning(kv("ingest_not_connected_yet", broker=broker_url, retrying=True))
        app = create_app(
            settings, engine=engine, metrics=metrics, consumer_connected=lambda: consumer.connected
        )
        print(
            f"fleetwire cloud running: API http://{settings.api_host}:{settings.api_port} "
            f"(docs /docs), MQTT {broker_url}"
            + (" (embedded)" if broker is not None else "")
            + f", database {_safe_url(settings.database_url)}",
            flush=True,
        )
        _uvicorn(app, settings)
    finally:
        _stop_delivery(worker)
        consumer.stop()
        if broker is not None:
            broker.stop()
        engine.dispose()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
