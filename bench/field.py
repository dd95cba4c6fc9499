"""Field benchmark: the gateway's own processes at a village office's load for one simulated day.

`anjungan ingest`, `anjungan kiosk` and `anjungan sync run` run as in the field (one process each, systemd's
watchdog spoken to them through a notify socket of the bench), against `anjungan central serve` on loopback
behind an HTTPS front (TLS 1.3, a certificate chain as a public CA issues one: RSA 2048 leaf and intermediate
under an RSA 4096 root, which the sync trusts through ``SSL_CERT_FILE``), through a small TCP proxy standing
for the 3G/4G link that counts the bytes on the wire (``--plain-http``: no TLS, to compare). The load of one
day:

- 10 sensor nodes on pseudo-terminals (the ingest reads them as serial ports), a frame a minute each,
  staggered (4 water-level, 3 weather, 3 power nodes, as the firmware sends them), a hello every 15 minutes;
- 50 citizens during office hours, each a browser session: home page, a form (its CSRF token and hidden
  fields read from the page), the POST, the receipt, "Selesai"; the screen polls the alert banner every 5 s
  as the kiosk's Chromium does;
- the sync every minute over a link that is down 30 % of the time (36 outages of 12 minutes on average; while
  down, the proxy refuses connections and cuts the open ones).

Time is compressed by ``F`` = 1440 / ``--minutes`` (default 10 minutes a day, F = 144), honestly:

- Every event of the day happens at its simulated time / F, one at a time, so every frame arrives at an idle
  writer and is committed on its own, as at 10 frames a minute; the sync's interval, backoff and idle poll
  are the configured ones divided by F (``[sync] interval_s``, ``backoff_base_s``, ``backoff_cap_s``), so it
  makes the rounds of a day; so is the reading writer's ``[gateway] commit_interval_s``.
- Bytes written: ``/proc/<pid>/io`` write_bytes counts a page each time it goes from clean to dirty, so it
  depends on when the kernel writes dirty pages back (after 30 s, ``vm.dirty_expire_centisecs``; Raspberry
  Pi OS has the same default). A compressed day would let the page cache absorb 144 times more rewrites of a
  page (the WAL's tail, the ``-shm`` index, a checkpointed page), so the bench writes every file of the data
  folder back (fsync) every simulated 30 s: each page dirtied again after that counts again, as on a Pi.
- Work that follows the wall clock rather than the day's events (the kiosk's screen poll, its alert watcher
  and watchdog probe, the ingest's port reads, node watch and watchdog pings) is measured on its own for
  ``--idle-s`` real seconds before the day (no frames yet) and counted for 86,400 s; the rest of each of
  these processes' figures is the day's events, scaled from the run. The sync's loop is all compressed.
- The hourly clock check is not compressed (an hour of the process's own clock): it runs once in the run, and
  the 23 others of a day are added to the wire figure at the measured cost of one.

The store is checked at the end (frames stored against frames sent: with a commit interval, the last open
group, at most a simulated minute of frames, is still being gathered when the day ends).

Prints a table, then as its LAST line one JSON object: ``disk_write_bytes_per_day``,
``wire_bytes_per_day``, ``cpu_s_per_day``, ``rss_total_mb`` and per-process figures. Targets: at most 50 MB
written and 2 MB on the wire a day, at most 120 MB RSS for all gateway processes together.

    .venv/bin/python bench/field.py [--minutes 10] [--idle-s 30] [--keep DIR] [--seed 15] [--plain-http]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import os
import queue
import random
import re
import signal
import socket
import sqlite3
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import tty
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fixtures.mosquitto import free_port, wait_port  # noqa: E402

ANJUNGAN = str(Path(sys.executable).parent / "anjungan")
DAY_S = 86_400
WRITEBACK_S = 30.0  # the kernel's vm.dirty_expire_centisecs (3000) in seconds
NODES = [("wl", 4), ("wx", 3), ("pw", 3)]  # water-level, weather, power
HELLO_S = 15 * 60
CITIZENS = 50
OUTAGES = 36  # link outages a day, 30 % of it in all
DOWN_SHARE = 0.30
SCREEN_POLL_S = 5.0  # kiosk.js polls /api/alerts every 5 s
TARGETS = {"disk_write_bytes_per_day": 50e6, "wire_bytes_per_day": 2e6, "rss_total_mb": 120.0}
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# -- the link ---------------------------------------------------------------------------------------------------
class Link:
    """A TCP proxy standing for the 3G/4G link: counts the bytes it carries; :attr:`up` False refuses
    connections (a reset) and cuts the open ones."""

    def __init__(self, upstream: int):
        self.upstream = upstream
        self.up = True
        self.bytes_up = 0  # gateway -> central
        self.bytes_down = 0
        self.connections = 0
        self.refused = 0
        self.by_path: Counter[str] = Counter()  # bytes both ways, by request path
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closing = False
        threading.Thread(target=self._accept, name="link-accept", daemon=True).start()

    def set_up(self, up: bool) -> None:
        with self._lock:
            self.up = up
            victims = list(self._open) if not up else []
        for sock in victims:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closing = True
        self.set_up(False)
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if not self.up:
                self.refused += 1
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()  # a reset, at once
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
            except OSError:
                conn.close()
                continue
            self.connections += 1
            path = ["?"]
            with self._lock:
                self._open.update((conn, upstream))
            for src, dst, outgoing in ((conn, upstream, True), (upstream, conn, False)):
                threading.Thread(
                    target=self._pump, args=(src, dst, outgoing, path), name="link-pump", daemon=True
                ).start()

    def _pump(self, src: socket.socket, dst: socket.socket, outgoing: bool, path: list[str]) -> None:
        try:
            while chunk := src.recv(65536):
                if outgoing:
                    match = re.match(rb"(GET|POST|PUT|HEAD) (/[^ ?]*)", chunk)
                    if match:
                        path[0] = f"{match.group(1).decode()} {_path_kind(match.group(2).decode())}"
                        self.requests[path[0]] += 1
                dst.sendall(chunk)
                with self._lock:
                    if outgoing:
                        self.bytes_up += len(chunk)
                    else:
                        self.bytes_down += len(chunk)
                    self.by_path[path[0]] += len(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._open.discard(src)
            src.close()


def _path_kind(path: str) -> str:
    return "/api/v1/files/…" if path.startswith("/api/v1/files/") else path


def certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A chain as a public CA issues one (an RSA 4096 root, an RSA 2048 intermediate, an RSA 2048 leaf for
    127.0.0.1; the server sends leaf and intermediate, as a Let's Encrypt certificate is served), made with the
    openssl command: (root to trust, chain to serve, leaf's key)."""
    folder.mkdir(parents=True, exist_ok=True)

    def run(*argv: str) -> None:
        subprocess.run(["openssl", *argv], cwd=folder, check=True, capture_output=True)

    (folder / "int.ext").write_text("basicConstraints=critical,CA:TRUE,pathlen:0\n"
                                    "keyUsage=critical,keyCertSign,cRLSign\n")  # fmt: skip
    (folder / "leaf.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                                     "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n")  # fmt: skip
    run("req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", "root.key", "-out", "root.pem", "-days", "30",
        "-subj", "/O=Bench Root CA/CN=Bench Root X1")  # fmt: skip
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "int.key",
        "-out",
        "int.csr",
        "-subj",
        "/O=Bench/CN=R11",
    )
    run("x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial", "-out",
        "int.pem", "-days", "30", "-extfile", "int.ext")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj",
        "/CN=central.kominfo.example")  # fmt: skip
    run("x509", "-req", "-in", "leaf.csr", "-CA", "int.pem", "-CAkey", "int.key", "-CAcreateserial", "-out",
        "leaf.pem", "-days", "30", "-extfile", "leaf.ext")  # fmt: skip
    chain = folder / "chain.pem"
    chain.write_bytes((folder / "leaf.pem").read_bytes() + (folder / "int.pem").read_bytes())
    return folder / "root.pem", chain, folder / "leaf.key"


class TlsFront:
    """The central's HTTPS front (a reverse proxy terminating TLS, as the central is served in the field):
    TLS from the link, plain HTTP to ``anjungan central serve``, in an asyncio loop of its own thread (one
    TLS object is never used by two threads). Counts the requests and their HTTP bytes (as sent, both ways) by
    path; the link in front counts what TLS makes of them."""

    def __init__(self, upstream: int, chain: Path, key: Path):
        self.upstream = upstream
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(chain, key)
        self.by_path: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.port = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), name="tls-front", daemon=True).start()
        if not ready.wait(30):
            raise SystemExit("the bench's TLS front did not start")

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context, ssl_handshake_timeout=30)
        )
        self.port = int(server.sockets[0].getsockname()[1])
        ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        path = ["?"]
        await asyncio.gather(
            self._pump(reader, up_writer, True, path), self._pump(up_reader, writer, False, path)
        )

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, outgoing: bool,
                    path: list[str]) -> None:  # fmt: skip
        try:
            while chunk := await src.read(65536):
                if outgoing:
                    match = re.match(rb"(GET|POST|PUT|HEAD) (/[^ ?]*)", chunk)
                    if match:
                        path[0] = f"{match.group(1).decode()} {_path_kind(match.group(2).decode())}"
                        self.requests[path[0]] += 1
                self.by_path[path[0]] += len(chunk)
                dst.write(chunk)
                await dst.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()


# -- processes and their figures ---------------------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            out.setdefault(ppid, []).append(int(entry))
    return out


def _tree(pid: int) -> list[int]:
    children, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _one(pid: int) -> dict[str, float]:
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime, stime, and (cutime, cstime) of reaped children, whose io the kernel also adds to ours
    cpu = sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    try:
        pss = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
            if ":" in line
        )["Pss"]
    except (OSError, KeyError):
        pss = "0 kB"
    return {
        "write_bytes": int(io["write_bytes"]) - int(io["cancelled_write_bytes"]),
        "cpu_s": cpu,
        "rss_mb": int(status["VmRSS"].split()[0]) / 1024,
        "hwm_mb": int(status["VmHWM"].split()[0]) / 1024,
        "pss_mb": int(pss.split()[0]) / 1024,
    }


def figures(pid: int) -> dict[str, float]:
    """A process and its live descendants (the kiosk's render worker), summed."""
    total: Counter[str] = Counter()
    for p in _tree(pid):
        with contextlib.suppress(OSError, KeyError, ValueError):
            total.update(_one(p))
    return dict(total)


class Notify:
    """systemd's notify socket for one service: READY=1 and WATCHDOG=1 arrive here."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.ready = threading.Event()
        self.pings = 0
        threading.Thread(target=self._read, name="notify", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            if b"READY=1" in data:
                self.ready.set()
            if b"WATCHDOG=1" in data:
                self.pings += 1


@dataclass
class Service:
    name: str
    argv: list[str]
    watchdog_s: int
    proc: subprocess.Popen[bytes] | None = None
    notify: Notify | None = None
    at: dict[str, dict[str, float]] = field(default_factory=dict)  # figures at named moments

    def start(self, workdir: Path, env: dict[str, str]) -> None:
        self.notify = Notify(workdir / f"{self.name}.notify")
        env = {
            **env,
            "NOTIFY_SOCKET": str(self.notify.path),
            "WATCHDOG_USEC": str(self.watchdog_s * 1_000_000),
        }
        log = (workdir / f"{self.name}.log").open("wb")
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env)

    def mark(self, moment: str) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise SystemExit(f"{self.name} exited with {self.proc.returncode}; see its log")
        self.at[moment] = figures(self.proc.pid)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the day's events -------------------------------------------------------------------------------------------
def frame_line(obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj, separators=(",", ":")).encode()
    return b"@" + body + b"*" + f"{zlib.crc32(body):08x}".encode() + b"\n"


def reading(kind: str, t: float, rng: random.Random) -> dict[str, float | int]:
    hour = (t / 3600) % 24
    warm = max(0.0, 1 - abs(hour - 13) / 7)
    if kind == "wl":
        water = round(120 + 15 * warm + rng.uniform(-0.8, 0.8), 1)
        return {"water_cm": water, "distance_cm": round(300 - water, 1), "temp_c": round(24 + 8 * warm, 1),
                "rh_pct": round(90 - 25 * warm, 1)}  # fmt: skip
    if kind == "wx":
        return {"temp_c": round(24 + 8 * warm + rng.uniform(-0.2, 0.2), 1), "rh_pct": round(90 - 25 * warm, 1),
                "pressure_hpa": round(1009 + rng.uniform(-1, 1), 1),
                "rain_mm": round(rng.choice([0, 0, 0, 0, 0.2, 0.4]), 1)}  # fmt: skip
    watts = round(350 + 900 * warm + rng.uniform(-20, 20), 1)
    return {"mains_v": round(221 + rng.uniform(-4, 4), 1), "current_a": round(watts / 221, 2), "power_w": watts,
            "energy_wh": int(20_000 + t * 0.6), "freq_hz": round(50 + rng.uniform(-0.1, 0.1), 1),
            "power_factor": 0.92, "mains_ok": 1}  # fmt: skip


def link_plan(rng: random.Random) -> list[tuple[float, bool]]:
    """(simulated second, up?) switches: OUTAGES outages totalling DOWN_SHARE of the day."""
    weights = [rng.uniform(2, 26) for _ in range(OUTAGES)]
    downs = [w / sum(weights) * DOWN_SHARE * DAY_S for w in weights]
    cuts = sorted(rng.uniform(0, 1) for _ in range(OUTAGES))
    ups = [b - a for a, b in zip([0.0, *cuts], [*cuts, 1.0], strict=True)]  # OUTAGES + 1 gaps
    up_total = (1 - DOWN_SHARE) * DAY_S
    plan, t = [], ups[0] * up_total
    for down, up in zip(downs, ups[1:], strict=True):
        plan += [(t, False), (t + down, True)]
        t += down + up * up_total
    return plan


def day_events(rng: random.Random) -> list[tuple[float, int, str, Any]]:
    events: list[tuple[float, int, str, Any]] = []
    n = 0
    for kind, count in NODES:
        for i in range(count):
            node = f"bench-{kind}-{i + 1:02d}"
            start = n * 6.0 + 1  # staggered: a frame every 6 s from one node or another
            for k in range(DAY_S // 60):
                t = start + k * 60
                events.append((t, len(events), "frame", (n, node, kind)))
                if k % (HELLO_S // 60) == 0:
                    events.append((t + 0.5, len(events), "hello", (n, node, kind)))
            n += 1
    for t, up in link_plan(rng):
        events.append((t, len(events), "link", up))
    office = sorted(rng.uniform(8 * 3600, 16 * 3600) for _ in range(CITIZENS))
    for i, t in enumerate(office):
        events.append((t, len(events), "citizen", "pengaduan" if i % 3 == 2 else "permohonan"))
    heapq.heapify(events)
    return [heapq.heappop(events) for _ in range(len(events))]


# -- citizens ---------------------------------------------------------------------------------------------------
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>')
_ATTR = re.compile(r'(name|value)="([^"]*)"')

PERMOHONAN = {"nama": "Siti Aminah", "nik": "3321010101900001", "alamat": "Desa Kalianyar RT 01/RW 02",
              "pekerjaan": "Petani", "telepon": "081234567890", "email": "",
              "rincian": "Salinan laporan realisasi anggaran desa tahun 2024",
              "tujuan": "Bahan musyawarah desa", "cara_memperoleh": "melihat"}  # fmt: skip
PENGADUAN = {"klasifikasi": "pengaduan", "kategori": "jalan-rusak", "judul": "Jalan berlubang di depan SD",
             "isi": "Lubang besar di tengah jalan, sudah dua motor jatuh minggu ini.",
             "lokasi": "Jalan Desa Mrisen", "nama": "Budi Santoso", "telepon": "085712345678"}  # fmt: skip


def hidden_fields(page: str) -> dict[str, str]:
    out = {}
    for tag in _HIDDEN.findall(page):
        attrs = dict(_ATTR.findall(tag))
        if "name" in attrs:
            out[attrs["name"]] = attrs.get("value", "")
    return out


class _From(requests.adapters.HTTPAdapter):
    """Connections from a given loopback address."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class Citizens(threading.Thread):
    """Citizens at the kiosk, one browser session each, in the order they come.

    Each comes from a loopback address of its own (127.0.1.<n>): the kiosk's submit limit (10 a minute per
    address) counts real minutes, and a compressed day brings 15 citizens a real minute; a real day's 50
    never come near it from the one screen.
    """

    def __init__(self, base: str):
        super().__init__(name="citizens", daemon=True)
        self.base = base
        self.jobs: queue.Queue[str | None] = queue.Queue()
        self.receipts: list[str] = []
        self.failures: list[str] = []

    def run(self) -> None:
        while (page := self.jobs.get()) is not None:
            try:
                self.visit(page)
            except Exception as err:  # reported at the end, never silently
                self.failures.append(f"{page}: {err}")

    def visit(self, page: str) -> None:
        with requests.Session() as browser:
            browser.mount("http://", _From(f"127.0.1.{len(self.receipts) + len(self.failures) + 1}"))
            browser.get(self.base + "/", timeout=30).raise_for_status()
            form = browser.get(f"{self.base}/{page}", timeout=30)
            form.raise_for_status()
            data = {**hidden_fields(form.text), **(PERMOHONAN if page == "permohonan" else PENGADUAN)}
            sent = browser.post(f"{self.base}/{page}", data=data, timeout=30, allow_redirects=False)
            if sent.status_code != 302 or "/tanda-terima/" not in sent.headers.get("Location", ""):
                raise RuntimeError(f"POST answered {sent.status_code}")
            receipt = browser.get(self.base + sent.headers["Location"], timeout=30)
            receipt.raise_for_status()
            self.receipts.append(sent.headers["Location"].rsplit("/", 1)[1])
            browser.post(self.base + "/selesai", timeout=30, allow_redirects=False)


class Screen(threading.Thread):
    """The kiosk's Chromium: polls the alert banner every 5 s (real time, as it does in a real day)."""

    def __init__(self, base: str):
        super().__init__(name="screen", daemon=True)
        self.url = base + "/api/alerts"
        self.stop = threading.Event()
        self.polls = 0

    def run(self) -> None:
        with requests.Session() as browser:
            while not self.stop.wait(SCREEN_POLL_S):
                with contextlib.suppress(requests.RequestException):
                    browser.get(self.url, timeout=10)
                    self.polls += 1


class Writeback(threading.Thread):
    """Writes every file of the data folder back every ``every_s`` real seconds (the kernel's 30 s, compressed)."""

    def __init__(self, folder: Path, every_s: float):
        super().__init__(name="writeback", daemon=True)
        self.folder = folder
        self.every_s = every_s
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            for path in self.folder.rglob("*"):
                with contextlib.suppress(OSError):
                    if path.is_file():
                        fd = os.open(path, os.O_RDONLY)
                        try:
                            os.fsync(fd)
                        finally:
                            os.close(fd)


# -- the run ----------------------------------------------------------------------------------------------------
SCALED = {"gateway.commit_interval_s", "sync.interval_s", "sync.backoff_base_s", "sync.backoff_cap_s"}


def write_config(path: Path, data: Path, ports: list[str], kiosk_port: int, url: str, creds: dict[str, str],
                 settings: dict[str, float], factor: float) -> None:  # fmt: skip
    """The gateway's TOML; ``settings`` ("section.key" -> value) added, the times of SCALED divided by F."""
    sections: dict[str, list[str]] = {"gateway": [], "sync": []}
    for key, value in settings.items():
        section, _, name = key.partition(".")
        sections.setdefault(section, []).append(f"{name} = {value / factor if key in SCALED else value}")
    serial = "".join(f'[[serial]]\nport = "{p}"\nbaud = 115200\n\n' for p in ports)
    path.write_text(
        f'[gateway]\nid = "bench-field"\nname = "Desa Bench"\ndata_dir = "{data}"\n'
        + "".join(line + "\n" for line in sections.pop("gateway"))
        + f'\n[central]\nurl = "{url}"\ngateway_id = "{creds["gateway_id"]}"\n'
        f'secret = "{creds["secret"]}"\n\n{serial}[mqtt]\nhost = ""\n\n'
        f'[kiosk]\nhost = "127.0.0.1"\nport = {kiosk_port}\nsecret_key = "bench-field-secret"\n\n'
        + "".join(
            f"[{name}]\n" + "".join(line + "\n" for line in lines) + "\n" for name, lines in sections.items()
        )
    )


def main() -> None:  # noqa: C901, PLR0915
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="real minutes for the simulated day")
    parser.add_argument("--idle-s", type=float, default=30.0, help="real seconds measuring wall-clock work")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="keep the work files in this folder")
    parser.add_argument("--plain-http", action="store_true",
                        help="the link without TLS (the central is served over HTTPS in the field)")  # fmt: skip
    parser.add_argument("--config", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a gateway setting for this run (times in real-day seconds: scaled by F)")  # fmt: skip
    args = parser.parse_args()
    factor = DAY_S / (args.minutes * 60)
    work = args.keep or Path(tempfile.mkdtemp(prefix="anjungan-bench-field-", dir=os.environ.get("TMPDIR")))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    kind = subprocess.run(
        ["stat", "-f", "-c", "%T", str(work)], capture_output=True, text=True
    ).stdout.strip()
    if kind in ("tmpfs", "ramfs"):
        raise SystemExit(
            f"{work} is on {kind}: nothing is written back there; use a folder on a disk (--keep)"
        )
    # as measured in docs/deploy.md: the default commit interval, 2 minutes (--config to compare others)
    settings = {"gateway.commit_interval_s": 120.0, "sync.interval_s": 60.0, "sync.backoff_base_s": 1.0,
                "sync.backoff_cap_s": 900.0}  # fmt: skip
    for item in args.config:
        key, _, value = item.partition("=")
        settings[key] = float(value)
    rng = random.Random(args.seed)
    events = day_events(rng)
    services: list[Service] = []
    cleanup = contextlib.ExitStack()
    with cleanup:
        central_port = free_port()
        base = [
            ANJUNGAN,
            "central",
            "--db",
            f"sqlite:///{work}/central.db",
            "--files-dir",
            str(work / "files"),
        ]
        out = subprocess.run(
            [*base, "add-gateway", "bench-field"], check=True, capture_output=True, text=True
        )
        creds = json.loads(out.stdout.strip().splitlines()[-1])
        central = subprocess.Popen([*base, "serve", "--host", "127.0.0.1", "--port", str(central_port)],
                                   stdout=(work / "central.log").open("wb"), stderr=subprocess.STDOUT)  # fmt: skip
        cleanup.callback(lambda: (central.terminate(), central.wait(30)))
        wait_port("127.0.0.1", central_port, 60)
        front: TlsFront | None = None
        trusted: Path | None = None
        if not args.plain_http:
            trusted, chain, key = certificates(work / "tls")
            front = TlsFront(central_port, chain, key)
            cleanup.callback(front.close)
        link = Link(front.port if front is not None else central_port)
        cleanup.callback(link.close)
        http: Link | TlsFront = front if front is not None else link  # what counts the requests by path

        masters, ports = [], []
        for _ in range(sum(count for _, count in NODES)):
            master, slave = os.openpty()
            tty.setraw(slave)
            masters.append(master)
            ports.append(os.ttyname(slave))
            cleanup.callback(os.close, master)
            cleanup.callback(os.close, slave)
        kiosk_port = free_port()
        config = work / "gateway.toml"
        scheme = "http" if front is None else "https"
        write_config(
            config, data, ports, kiosk_port, f"{scheme}://127.0.0.1:{link.port}", creds, settings, factor
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")}
        if trusted is not None:  # the bench's root CA, as a public CA's root is trusted in the field
            env["SSL_CERT_FILE"] = str(trusted)
        root = [ANJUNGAN, "--config", str(config)]
        services = [Service("ingest", [*root, "ingest"], 60), Service("kiosk", [*root, "kiosk"], 60),
                    Service("sync", [*root, "sync", "run"], 1800)]  # fmt: skip
        for service in services:
            service.start(work, env)
            cleanup.callback(service.stop)
            if service.name == "ingest":  # the store exists (migrated) before the others open it
                assert service.notify is not None
                if not service.notify.ready.wait(60):
                    raise SystemExit("the ingest did not say READY within 60 s; see its log")
        for service in services:
            assert service.notify is not None
            if not service.notify.ready.wait(60) and service.name != "sync":
                raise SystemExit(f"{service.name} did not say READY within 60 s; see its log")
        wait_port("127.0.0.1", kiosk_port, 60)
        kiosk_url = f"http://127.0.0.1:{kiosk_port}"
        screen = Screen(kiosk_url)
        screen.start()
        cleanup.callback(screen.stop.set)
        time.sleep(3)  # the sync's first rounds (clock, empty streams) and the kiosk's first pages

        # wall-clock work, before any node is known (so no node can go offline meanwhile)
        print(f"measuring wall-clock work for {args.idle_s:.0f} s …", file=sys.stderr)
        for service in services:
            service.mark("idle0")
        idle_started = time.monotonic()
        time.sleep(args.idle_s)
        idle_s = time.monotonic() - idle_started
        for service in services:
            service.mark("idle1")

        writeback = Writeback(data, WRITEBACK_S / factor)
        writeback.start()
        cleanup.callback(writeback.stop.set)
        citizens = Citizens(kiosk_url)
        citizens.start()
        cleanup.callback(citizens.jobs.put, None)
        wire0 = (
            link.bytes_up,
            link.bytes_down,
            Counter(http.by_path),
            Counter(http.requests),
            link.connections,
        )
        print(f"one simulated day in {args.minutes:g} min (F = {factor:.0f}) …", file=sys.stderr)
        for service in services:
            service.mark("day0")
        started = time.monotonic()
        seqs = [0] * len(masters)
        lags: list[float] = []
        down_s, down_since = 0.0, None
        for sim_t, _, kind, what in events:
            due = started + sim_t / factor
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            else:
                lags.append(now - due)
            if kind in ("frame", "hello"):
                n, node, node_kind = what
                obj: dict[str, Any] = {"v": 1, "k": "r" if kind == "frame" else "h", "n": node, "b": 1,
                                       "q": seqs[n], "t": int(sim_t * 1000)}  # fmt: skip
                if kind == "frame":
                    obj["r"] = reading(node_kind, sim_t, rng)
                else:
                    obj.update({"fw": "1.4.0", "up_s": int(sim_t), "mem_free": 61_000 + rng.randrange(2000),
                                "rssi": -60 - rng.randrange(15)})  # fmt: skip
                seqs[n] += 1
                os.write(masters[n], frame_line(obj))
            elif kind == "link":
                link.set_up(what)
                if not what:
                    down_since = sim_t
                elif down_since is not None:
                    down_s += sim_t - down_since
                    down_since = None
            elif kind == "citizen":
                citizens.jobs.put(what)
        remaining = started + DAY_S / factor - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        run_s = time.monotonic() - started
        for service in services:
            service.mark("day1")
        wire = (link.bytes_up - wire0[0], link.bytes_down - wire0[1])
        by_path = http.by_path - wire0[2]
        reqs = http.requests - wire0[3]
        connections = link.connections - wire0[4]
        citizens.jobs.put(None)
        citizens.join(60)
        writeback.stop.set()
        screen.stop.set()
        sim_s = run_s * factor
        day = DAY_S / sim_s
        checks = store_checks(data / "anjungan.db", sum(seqs), len(citizens.receipts))

        clock = (http.requests["GET /api/v1/time"], http.by_path["GET /api/v1/time"])  # the whole session
        report(services, idle_s, run_s, day, factor, wire, by_path, reqs, connections, lags, down_s,
               citizens, screen, checks, settings, clock, tls=front is not None)  # fmt: skip
        if args.keep is None:
            cleanup.callback(lambda: subprocess.run(["rm", "-rf", str(work)], check=False))


def store_checks(path: Path, frames_sent: int, receipts: int) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        one = lambda sql: int(conn.execute(sql).fetchone()[0])  # noqa: E731
        return {
            "frames_sent": frames_sent,
            "frames_stored": one("SELECT count(*) FROM frames"),
            "readings_stored": one("SELECT count(*) FROM readings"),
            "receipts": receipts,
            "submissions_stored": one("SELECT count(*) FROM submissions"),
            "readings_acked": one("SELECT coalesce(max(acked), 0) FROM sync_state WHERE stream = 'readings'"),
            "readings_top": one("SELECT coalesce(max(seq), 0) FROM readings"),
            "submissions_acked": one(
                "SELECT coalesce(max(acked), 0) FROM sync_state WHERE stream = 'submissions'"
            ),
            "events_stored": one("SELECT count(*) FROM events"),
            "db_bytes": path.stat().st_size,
        }
    finally:
        conn.close()


def per_day(service: Service, key: str, idle_s: float, run_s: float, day: float) -> tuple[float, float]:
    """(wall-clock part, event part) of a day's ``key`` for one process (see the module's docstring)."""
    idle = service.at["idle1"][key] - service.at["idle0"][key]
    run = service.at["day1"][key] - service.at["day0"][key]
    if service.name == "sync":  # its whole loop runs compressed
        return 0.0, run * day
    rate = idle / idle_s
    return rate * DAY_S, max(0.0, run - rate * run_s) * day


def report(services: list[Service], idle_s: float, run_s: float, day: float, factor: float,  # noqa: PLR0913
           wire: tuple[int, int], by_path: Counter[str], reqs: Counter[str], connections: int,
           lags: list[float], down_s: float, citizens: Citizens, screen: Screen, checks: dict[str, int],
           settings: dict[str, float], clock: tuple[int, int], *, tls: bool) -> None:  # fmt: skip
    rows, procs = [], {}
    for s in services:
        w_wall, w_ev = per_day(s, "write_bytes", idle_s, run_s, day)
        c_wall, c_ev = per_day(s, "cpu_s", idle_s, run_s, day)
        end = s.at["day1"]
        procs[s.name] = {"disk_write_bytes_per_day": round(w_wall + w_ev), "cpu_s_per_day": round(c_wall + c_ev, 1),
                         "rss_mb": round(end["rss_mb"], 1), "rss_peak_mb": round(end["hwm_mb"], 1),
                         "pss_mb": round(end["pss_mb"], 1), "disk_wall_clock_part": round(w_wall),
                         "cpu_wall_clock_part_s": round(c_wall, 1)}  # fmt: skip
        rows.append(s.name)
    # a day has 24 clock checks of up to 3 GET /api/v1/time each; the run made fewer (an hour is real time)
    http_bytes = sum(by_path.values())
    framing = (
        sum(wire) / http_bytes if tls and http_bytes else 1.0
    )  # what TLS makes of an HTTP byte, on average
    per_time = clock[1] / clock[0] * framing if clock[0] else 0.0
    missing_time = max(0.0, 24 * 3 - reqs.get("GET /api/v1/time", 0) * day)
    wire_day = sum(wire) * day + missing_time * per_time
    disk = sum(p["disk_write_bytes_per_day"] for p in procs.values())
    cpu = sum(p["cpu_s_per_day"] for p in procs.values())
    rss = sum(p["rss_mb"] for p in procs.values())
    pss = sum(p["pss_mb"] for p in procs.values())
    print(f"anjungan field bench: one simulated day in {run_s / 60:.1f} min (F = {factor:.0f}); "
          f"settings {settings}")  # fmt: skip
    print(f"  load: {checks['frames_sent']:,} frames from 10 nodes, {len(citizens.receipts)} of {CITIZENS} citizens "
          f"served ({len(citizens.failures)} failed), screen polls {screen.polls} in real time; link down "
          f"{down_s / DAY_S:.0%} of the day; schedule lag p99 {_pct(lags, 99) * 1000:.0f} ms, "
          f"max {max(lags, default=0) * 1000:.0f} ms (frames {6 / factor * 1000:.0f} ms apart)")  # fmt: skip
    print(f"  {'process':<8} {'MB written/day':>15} {'(wall-clock)':>13} {'CPU s/day':>10} {'(wall-clock)':>13} "
          f"{'RSS MB':>7} {'peak':>6} {'PSS MB':>7}")  # fmt: skip
    for name, p in procs.items():
        print(f"  {name:<8} {p['disk_write_bytes_per_day'] / 1e6:>15.1f} {p['disk_wall_clock_part'] / 1e6:>13.1f} "
              f"{p['cpu_s_per_day']:>10.0f} {p['cpu_wall_clock_part_s']:>13.0f} {p['rss_mb']:>7.1f} "
              f"{p['rss_peak_mb']:>6.1f} {p['pss_mb']:>7.1f}")  # fmt: skip
    print(
        f"  {'total':<8} {disk / 1e6:>15.1f} {'':>13} {cpu:>10.0f} {'':>13} {rss:>7.1f} {'':>6} {pss:>7.1f}"
    )
    how = (f"TLS 1.3 as on the wire; the HTTP within {http_bytes * day / 1e6:.2f}" if tls
           else "HTTP as sent, no TLS")  # fmt: skip
    print(f"  wire: {sum(wire) * day / 1e6:.2f} MB/day measured ({wire[0] * day / 1e6:.2f} up, "
          f"{wire[1] * day / 1e6:.2f} down; {how}), {connections * day:,.0f} connections/day; "
          f"with the hourly clock checks a day makes ({missing_time:.0f} GET /time of {per_time:.0f} B added) "
          f"{wire_day / 1e6:.2f} MB/day")  # fmt: skip
    for path, count in reqs.most_common():
        print(
            f"    {path:<28} {count * day:>8,.0f} requests/day {by_path[path] * day / 1e6:>7.2f} MB/day (HTTP)"
        )
    print(f"  store: {checks}")
    if citizens.failures:
        print(f"  citizens failed: {citizens.failures[:3]}")
    verdict = {"disk": disk <= TARGETS["disk_write_bytes_per_day"], "wire": wire_day <= TARGETS["wire_bytes_per_day"],
               "rss": rss <= TARGETS["rss_total_mb"]}  # fmt: skip
    print(f"  targets (50 MB written, 2 MB wire, 120 MB RSS a day): {verdict}")
    print(json.dumps({"disk_write_bytes_per_day": round(disk), "wire_bytes_per_day": round(wire_day),
                      "cpu_s_per_day": round(cpu, 1), "rss_total_mb": round(rss, 1), "pss_total_mb": round(pss, 1),
                      "processes": procs, "compression": round(factor, 1), "settings": settings,
                      "frames_stored": checks["frames_stored"], "submissions_stored": checks["submissions_stored"],
                      "link_down_share": round(down_s / DAY_S, 3), "tls": tls}))  # fmt: skip


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


if __name__ == "__main__":
    main()
