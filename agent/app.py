"""The agent's composition root: builds every component from the configuration,
starts them in order (outbox/pipeline, uplink, sources) and stops them in reverse.

Stopping: sources first, then the pipeline drains its queue into the outbox and
commits, then the uplink waits a moment for outstanding PUBACKs. Whatever is still
unacknowledged simply stays in the outbox for the next start.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from agent.clock import GnssClock
from agent.config import Config
from agent.errors import AgentError
from agent.outbox import OutboxReader, OutboxWriter
from agent.pipeline import Pipeline
from agent.sources.base import Source
from agent.uplink import Uplink

log = logging.getLogger("fleetwire.agent")


def build_sources(cfg: Config) -> list[Source]:
    """One source per enabled input; a source that cannot open retries on its own."""
    sources: list[Source] = []
    if cfg["gnss.enabled"]:
        import datetime as dt

        from agent.errors import ConfigError
        from agent.sources.gnss import GnssSource

        try:
            floor = (
                dt.date.fromisoformat(cfg["gnss.date_floor"]) if cfg["gnss.date_floor"] else None
            )
        except ValueError as exc:
            raise ConfigError(
                f"gnss.date_floor: expected YYYY-MM-DD, got {cfg['gnss.date_floor']!r}"
            ) from exc
        sources.append(
            GnssSource(
                cfg["gnss.url"],
                baudrate=cfg["gnss.baudrate"],
                stall_timeout_s=cfg["gnss.stall_timeout_s"],
                allow_missing_checksum=cfg["gnss.allow_missing_checksum"],
                max_sentence_chars=cfg["gnss.max_sentence_chars"],
                date_floor=floor,
                backoff_max_s=cfg["gnss.backoff_max_s"],
            )
        )
    if cfg["can.enabled"]:
        from agent.sources.can_bus import J1939Source, ObdPollerSource

        bus = {
            "interface": cfg["can.interface"],
            "channel": cfg["can.channel"],
            **cfg["can.options"],
        }
        if cfg["can.interface"] == "socketcan":
            pass  # the bit rate is set on the interface (see firmware_config/can-setup.sh)
        elif cfg["can.interface"] not in ("virtual", "udp_multicast"):
            bus["bitrate"] = cfg["can.bitrate"]
        if cfg["can.j1939"]:
            sources.append(J1939Source(bus, dbc_paths=list(cfg["can.dbc"])))
        if cfg["can.obd"]:
            pids = {int(str(k), 16): float(v) for k, v in cfg["can.obd_pids"].items()}
            sources.append(ObdPollerSource(bus, pids=pids, addressing=cfg["can.obd_addressing"]))
    return sources


def build_stages(cfg: Config) -> dict[str, Any]:
    from agent.detectors import DetectorChain, DetectorParams
    from agent.stages.quality import QualityChecker, QualityParams
    from agent.stages.sampling import Sampler, SamplingConfig

    quality = QualityChecker(QualityParams.from_dict(cfg["gnss.quality"]))
    sampler = Sampler(SamplingConfig.from_dict(cfg["gnss.sampling"]))
    detectors = DetectorChain(DetectorParams.from_dict(cfg["detectors"]))
    return {"quality": quality.mark, "sampler": sampler.accept, "detectors": [detectors.feed]}


class Agent:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.clock = GnssClock()
        path = cfg["outbox.path"]
        stages = build_stages(cfg)
        self.eld: Any = None
        self.eld_store: Any = None
        if cfg["eld.enabled"]:
            from agent.eld import DutyStore, EldParams, EldRecorder

            self.eld_store = DutyStore(
                cfg["eld.store_path"],
                allow_personal_conveyance=cfg["eld.allow_personal_conveyance"],
                allow_yard_move=cfg["eld.allow_yard_move"],
                # driver actions get the same GNSS-corrected time as CAN values
                clock_ms=lambda: self.clock.event_time_ms(int(time.time() * 1000)),
            )
            self.eld = EldRecorder(EldParams.from_section(cfg.section("eld")), self.eld_store)
            stages["detectors"].append(self.eld.feed)
        self.pipeline = Pipeline(
            lambda: OutboxWriter(
                path,
                max_bytes=int(cfg["outbox.max_mb"] * 1024 * 1024),
                commit_window_ms=cfg["outbox.commit_window_ms"],
                keep_sent_s=cfg["outbox.keep_sent_s"],
            ),
            clock=self.clock,
            engine_period_s=cfg["engine.sample_period_s"],
            **stages,
        )
        self.uplink = Uplink(
            lambda: OutboxReader(path, keep_sent_s=cfg["outbox.keep_sent_s"]),
            cfg["device.fleet"],
            cfg["device.id"],
            cfg["uplink.mqtt_url"],
            tls_ca=cfg["uplink.tls_ca"],
            keepalive_s=cfg["uplink.keepalive_s"],
            batch_max_records=cfg["uplink.batch_max_records"],
            batch_max_bytes=cfg["uplink.batch_max_bytes"],
            batch_max_age_s=cfg["uplink.batch_max_age_s"],
            inflight=cfg["uplink.inflight"],
            backlog_records_per_s=cfg["uplink.backlog_records_per_s"],
            status_period_s=cfg["uplink.status_period_s"],
            health=self.health,
        )
        from agent.downlink import Downlink

        self.downlink = Downlink(self.health, self.pipeline.submit, self.eld_store)
        self.uplink.command_handler = self.downlink.handle
        self.sources = build_sources(cfg)
        self._stopped = threading.Event()
        self._ui: Any = None
        self._ticker: threading.Thread | None = None

    def health(self) -> dict[str, Any]:
        return {
            **({"eld": self.eld.health()} if self.eld is not None else {}),
            "pipeline": self.pipeline.health(),
            "clock": self.clock.health(),
            "sources": {getattr(s, "name", type(s).__name__): s.health() for s in self.sources},
        }

    def start(self) -> None:
        self.pipeline.start()  # opens the outbox: fails fast on a damaged file
        self.uplink.start()
        if self.eld is not None:
            from agent.eld.local_ui import LocalUi

            self._ui = LocalUi(
                self.eld_store,
                self.pipeline.submit,
                self.cfg["eld.ui_host"],
                self.cfg["eld.ui_port"],
            )
            self._ui.start()
            self._ticker = threading.Thread(target=self._eld_ticks, name="eld-timer", daemon=True)
            self._ticker.start()
            log.info("event=driver_page url=http://%s:%s/", self.cfg["eld.ui_host"], self._ui.port)
        for source in self.sources:
            source.start(self.pipeline.submit)
        log.info(
            "event=started device=%s fleet=%s boot_id=%s sources=%d",
            self.cfg["device.id"],
            self.cfg["device.fleet"],
            self.pipeline.outbox.boot_id if self.pipeline.outbox else None,
            len(self.sources),
        )

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for source in reversed(self.sources):
            try:
                source.stop()
            except Exception:
                log.exception("event=source_stop_failed source=%s", type(source).__name__)
        if self._ui is not None:
            self._ui.stop()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self.pipeline.stop()
        if self.eld_store is not None:
            self.eld_store.close()
        self.uplink.stop(timeout=3.0)
        log.info("event=stopped")

    def _eld_ticks(self) -> None:
        """ELD timers (the unanswered "still driving?" prompt) run even without data."""
        while not self._stopped.wait(self.cfg["eld.tick_s"]):
            now_ms = self.clock.event_time_ms(int(time.time() * 1000))
            try:
                for event in self.eld.tick(now_ms):
                    self.pipeline.submit(event)
            except Exception:
                log.exception("event=eld_tick_failed")

    def run_forever(self) -> None:
        """Run until SIGINT or SIGTERM."""
        done = threading.Event()

        def _on_signal(signum: int, frame: Any) -> None:
            done.set()

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        self.start()
        try:
            while not done.wait(1.0):
                if not self.pipeline.alive:
                    # Without a pipeline nothing is recorded: stop, so the service manager
                    # restarts the agent (unsent records wait in the outbox).
                    raise AgentError(f"the pipeline stopped: {self.pipeline.died!r}")
        finally:
            self.stop()
