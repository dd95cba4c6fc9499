"""The ingest: serial readers, the MQTT reader and the node watch around the store's one writer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config import Config
from gateway.errors import FrameError
from gateway.frame import Frame, parse_line
from gateway.ingest.journal import Journal
from gateway.ingest.serial_reader import SerialReader
from gateway.ingest.sink import FrameSink, submit_journaled
from gateway.ingest.watch import IntervalLearner, NodeWatch
from gateway.store import Store

if TYPE_CHECKING:
    from gateway.ingest.mqtt_reader import MqttReader

log = logging.getLogger(__name__)

READER_STOP_S = 2.0  # how long close() lets the serial readers hand their last lines to the writer


@dataclass(frozen=True)
class SerialPort:
    port: str
    baud: int = 115200


def mqtt_client_id(cfg: Config) -> str:
    return str(cfg.mqtt.client_id or f"anjungan-{cfg.gateway.id}")


class Ingest:
    """Start with :meth:`start`; :meth:`close` (idempotent) stops the readers, then lets the writer finish."""

    def __init__(
        self,
        store: Store,
        *,
        serial_ports: Sequence[SerialPort] = (),
        mqtt: tuple[str, int] | None = None,
        mqtt_client_id: str = "anjungan",
        mqtt_login: tuple[str, str] = ("", ""),
        data_dir: Path | None = None,
        offline_after: float = 3,
        watch_every_s: float = 1.0,
        commit_interval_s: float = 0.0,
        journal_dir: Path | None = None,
    ):
        self.store = store
        self.writer = store.writer(commit_interval_s)
        self.learner = IntervalLearner()
        self.journal = Journal(journal_dir, store.path) if journal_dir is not None else None
        self.sinks = [
            FrameSink(self.writer, p.port, on_frames=self.learner.saw, journal=self.journal)
            for p in serial_ports
        ]
        self.serial_readers = [
            SerialReader(p.port, sink, baud=p.baud, data_dir=data_dir)
            for p, sink in zip(serial_ports, self.sinks, strict=True)
        ]
        self.mqtt_reader: MqttReader | None = None
        if mqtt:
            # imported only when there is a broker: paho brings ssl, http and email with it (about 7 MB of RSS)
            from gateway.ingest.mqtt_reader import MqttReader

            self.mqtt_reader = MqttReader(
                self.writer,
                mqtt[0],
                mqtt[1],
                client_id=mqtt_client_id,
                username=mqtt_login[0],
                password=mqtt_login[1],
                on_frames=self.learner.saw,
            )
        self.watch = NodeWatch(store, self.learner, offline_after=offline_after, every_s=watch_every_s)
        self._lock = threading.Lock()
        self._state = "new"

    @classmethod
    def from_config(
        cls,
        store: Store,
        cfg: Config,
        *,
        extra_serial: Sequence[str] = (),
        mqtt: tuple[str, int] | None = None,
    ) -> Ingest:
        """Ports from the configuration plus ``extra_serial``; MQTT from ``mqtt`` or the configuration."""
        ports = [SerialPort(s.port, s.baud) for s in cfg.serial]
        known = {p.port for p in ports}
        ports += [SerialPort(p) for p in dict.fromkeys(extra_serial) if p not in known]
        if mqtt is None and cfg.mqtt.host:
            mqtt = (cfg.mqtt.host, cfg.mqtt.port)
        return cls(
            store,
            serial_ports=ports,
            mqtt=mqtt,
            mqtt_client_id=mqtt_client_id(cfg),
            mqtt_login=(cfg.mqtt.username, cfg.mqtt.password),
            data_dir=cfg.data_dir,
            offline_after=cfg.gateway.offline_after_intervals,
            commit_interval_s=cfg.gateway.commit_interval_s,
            journal_dir=cfg.journal_dir,
        )

    def describe(self) -> str:
        parts = [f"serial {r.port}" for r in self.serial_readers]
        if self.mqtt_reader:
            parts.append(
                f"mqtt {self.mqtt_reader.host}:{self.mqtt_reader.port} as {self.mqtt_reader.client_id}"
            )
        return ", ".join(parts) or "nothing (no serial port, no MQTT broker configured)"

    def start(self) -> Ingest:
        with self._lock:
            if self._state != "new":
                return self
            self._state = "running"
        if self.journal is not None:
            self._open_journal(self.journal)
        for reader in self.serial_readers:
            reader.start()
        if self.mqtt_reader:
            self.mqtt_reader.start()
        self.watch.start()
        return self

    def close(self) -> None:
        with self._lock:
            if self._state == "closed":
                return
            self._state = "closed"
        for reader in self.serial_readers:
            reader.stop()
        for reader in self.serial_readers:  # normally each ends within a read timeout ...
            reader.close(READER_STOP_S)
        if self.mqtt_reader:
            self.mqtt_reader.close()
        self.watch.close()
        # commits whatever is queued before it returns; if the store cannot be written (locked, full) it makes
        # one attempt and refuses the rest, which also wakes a reader waiting for room in its queue
        self.writer.close()
        for reader in self.serial_readers:  # ... or once the closed writer refused what it was handing over
            reader.close()
        if self.journal is not None:  # removed when all was saved, else kept for the next start
            self.journal.close()

    def _open_journal(self, journal: Journal) -> None:
        """Open this process's journal and submit the frames that dead ingests left in theirs (before any port
        is read). A journal that cannot be opened leaves the serial frames to be committed at once."""
        try:
            journal.open()
            taken = journal.take_over()
        except OSError as err:
            log.error("journal in %s: %s; serial frames are saved at once", journal.folder, err)
            journal.close()
            self.journal = None
            for sink in self.sinks:
                sink.journal = None
                sink.urgent = True
            return
        frames = 0
        for entry_id, entry in taken:
            valid: list[Frame] = []
            for line in entry.lines:
                try:
                    valid.append(parse_line(line))
                except FrameError:  # not a frame after all (journaled by another version): keep it as a line
                    self.writer.console(entry.source, line)
            if valid:
                frames += len(valid)
                # committed at once: an ingest that keeps being killed must not keep them waiting
                submit_journaled(self.writer, journal, entry_id, entry, valid, urgent=True)
            elif entry_id is not None:
                journal.forget(entry_id)
        if taken or journal.torn:
            log.warning(
                "journal: %d serial frames submitted again (the store keeps each once), %d torn lines skipped",
                frames,
                journal.torn,
            )

    def __enter__(self) -> Ingest:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
