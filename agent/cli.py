"""``fleetwire-agent``: run the in-cab agent, inspect its outbox, replay captures.

Thin by design: each command parses its arguments, calls one library function and
turns an AgentError into one line of advice and an exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from agent.errors import AgentError

EXAMPLES = """\
examples:
  fleetwire-agent run --config /etc/fleetwire/agent.toml
  fleetwire-agent status --config /etc/fleetwire/agent.toml
  fleetwire-agent replay-nmea capture.nmea > fixes.jsonl
  fleetwire-agent replay-can truck.log --dbc my.dbc > signals.jsonl

configuration: a TOML file (see firmware_config/agent.example.toml); any key can be
overridden with FLEETWIRE_AGENT__<SECTION>__<KEY>, e.g. FLEETWIRE_AGENT__UPLINK__MQTT_URL.
"""


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        stream=sys.stderr,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetwire-agent",
        description="The fleetwire in-cab agent: reads GPS (NMEA over serial) and engine data "
        "(J1939 / OBD-II over CAN), stores every record in a SQLite outbox and publishes it "
        "over MQTT, losing nothing while offline.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the agent until Ctrl-C / SIGTERM")
    run.add_argument("--config", "-c", help="TOML configuration file")
    status = sub.add_parser("status", help="show the outbox: unsent records per lane, oldest age")
    status.add_argument("--config", "-c", help="TOML configuration file")
    check = sub.add_parser("check-config", help="validate the configuration and print it")
    check.add_argument("--config", "-c", help="TOML configuration file")
    sub.add_parser("config-doc", help="print the table of configuration keys (Markdown)")
    recover = sub.add_parser(
        "outbox-recover", help="move a damaged outbox aside and salvage its readable records"
    )
    recover.add_argument("--config", "-c", help="TOML configuration file")
    sub.add_parser(
        "replay-nmea", help="decode an NMEA capture to JSON lines (one per fix)", add_help=False
    )
    sub.add_parser(
        "replay-can", help="decode a CAN log to JSON lines (signals and events)", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Replay commands own their arguments (and their --help).
    if argv and argv[0] == "replay-nmea":
        from agent.replay_nmea import main as replay_nmea

        return replay_nmea(argv[1:])
    if argv and argv[0] == "replay-can":
        from agent.replay_can import main as replay_can

        return replay_can(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    _setup_logging(args.log_level)
    try:
        return _dispatch(args)
    except AgentError as exc:
        print(f"fleetwire-agent: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from agent.config import config_markdown, load_config

    if args.command == "config-doc":
        sys.stdout.write(config_markdown())
        return 0
    cfg = load_config(args.config)
    if args.command == "check-config":
        print(json.dumps(cfg.as_dict(), indent=2, sort_keys=True))
        return 0
    if args.command == "status":
        from agent.outbox import OutboxReader

        reader = OutboxReader(cfg["outbox.path"])
        try:
            print(json.dumps(reader.stats(), indent=2))
        finally:
            reader.close()
        return 0
    if args.command == "outbox-recover":
        from agent.outbox import recover

        aside, salvaged = recover(cfg["outbox.path"])
        print(f"moved the damaged outbox to {aside}; salvaged {salvaged} unsent records")
        return 0
    if args.command == "run":
        from agent.app import Agent

        Agent(cfg).run_forever()
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
