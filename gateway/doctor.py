"""``anjungan doctor``: the technician's first command. Plain-words findings in Bahasa Indonesia and English.

Each :class:`Finding` says what was seen and, when something needs a hand, how to fix it. The checks only read:
a missing configuration, store or folder is reported, never created; the store is opened so that nothing on
disk changes (gateway/store/readonly.py: no -wal or -shm left, an empty or damaged file called damaged, not
initialised). Order: configuration, store (schema, size,
backlog), disk (space, and writes since boot: the SD card's wear), permissions, the kiosk's port and screen,
the broker, each node, serial devices and their udev names, the printer, the clock, the central (reachable,
credentials accepted).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import hmac
import json
import os
import shutil
import socket
import sqlite3
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config import Config
from gateway.deadline import DeadlineExceeded
from gateway.deadline import within as _within  # one deadline for a whole network check
from gateway.errors import AnjunganError


@dataclass(frozen=True)
class Finding:
    """One line of the report: ``ok`` False means something needs a hand, and ``fix_id``/``fix_en`` say what."""

    ok: bool
    id: str
    en: str
    fix_id: str = ""
    fix_en: str = ""


def good(id_text: str, en_text: str) -> Finding:
    return Finding(True, id_text, en_text)


def bad(id_text: str, en_text: str, fix_id: str, fix_en: str) -> Finding:
    return Finding(False, id_text, en_text, fix_id, fix_en)


def run_checks(cfg: Config) -> Iterator[Finding]:
    """Every finding for configuration ``cfg`` (a :class:`gateway.config.Config`), in the technician's order."""
    yield from _configuration(cfg)
    yield from _identity(cfg)
    store_ok = yield from _store(cfg)
    yield from _disk(cfg)
    yield from _permissions(cfg)
    yield from _kiosk(cfg)
    if cfg.mqtt.host:
        yield _reachable(cfg.mqtt.host, cfg.mqtt.port, "broker MQTT", "MQTT broker",
                         "systemctl status mosquitto", "systemctl status mosquitto")  # fmt: skip
    if store_ok:
        yield from _nodes(cfg)
    yield from _serial(cfg)
    yield from _operator(cfg)
    yield from _printer(cfg)
    yield from _clock(cfg)
    yield from _central(cfg)


def _configuration(cfg: Config) -> Iterator[Finding]:
    if cfg.path:
        yield good(f"konfigurasi dibaca dari {cfg.path}", f"configuration read from {cfg.path}")
    else:
        yield bad(
            "tidak ada berkas konfigurasi (memakai bawaan)",
            "no configuration file (using built-in defaults)",
            "buat dengan `anjungan init`, atau beri --config /etc/anjungan/gateway.toml",
            "create one with `anjungan init`, or pass --config /etc/anjungan/gateway.toml",
        )


def _identity(cfg: Config) -> Iterator[Finding]:
    """The kiosk's id prefixes its registration numbers: the built-in example, or an id the central knows by
    another name, needs a hand."""
    from gateway.config import SETTINGS

    example = next(s.default for s in SETTINGS if (s.section, s.key) == ("gateway", "id"))
    gid, central_id = cfg.gateway.id, cfg.central.gateway_id
    if central_id and central_id != gid:
        yield bad(f"kios ini punya dua id: [gateway] id = {gid}, di pusat {central_id}",
                  f"this kiosk has two ids: [gateway] id = {gid}, at the central {central_id}",
                  f"samakan: daftarkan kios di pusat sebagai {gid} (`anjungan central add-gateway {gid}`) lalu "
                  "isi gateway_id dan secret yang baru",
                  f"make them one: register the kiosk at the central as {gid} (`anjungan central add-gateway "
                  f"{gid}`), then fill in the new gateway_id and secret")  # fmt: skip
    elif gid == example and central_id != gid:
        yield bad(f"id kios masih contoh bawaan ({gid}): semua kios seperti ini berbagi awalan nomor pendaftaran",
                  f"the kiosk id is still the built-in example ({gid}): every kiosk left so shares one "
                  "registration-number prefix",
                  "beri id sendiri di [gateway] id (mis. dmk-<kecamatan>), sebelum warga pertama mendaftar",
                  "give it its own [gateway] id (e.g. dmk-<sub-district>) before the first citizen files")  # fmt: skip


def _store(cfg: Config) -> Generator[Finding, None, bool]:
    from gateway.store import Store

    path = Path(cfg.store_path)
    if not path.exists():
        yield bad(f"tidak ada penyimpanan di {path}", f"no store at {path}",
                  "buat dengan `anjungan init`", "create it with `anjungan init`")  # fmt: skip
        return False
    why = _store_damage(path)
    if why is not None:
        yield _damaged(path, why)
        return False
    store = Store(path, readonly=True)  # read as it is: never created, migrated or written here
    try:
        pending = store.migrations_pending()
        if pending:
            yield bad(f"penyimpanan perlu diperbarui ({len(pending)} migrasi)",
                      f"the store needs an upgrade ({len(pending)} migrations pending)",
                      "jalankan `anjungan upgrade` (cadangan dibuat dulu)",
                      "run `anjungan upgrade` (it makes a backup first)")  # fmt: skip
            return False
        used, budget = store.used_bytes(), cfg.gateway.store_budget_mb << 20
        text = (
            f"{used / (1 << 20):.1f} MB / {cfg.gateway.store_budget_mb} MB"  # (MB as store_budget_mb counts)
        )
        if used < budget * 0.9:
            yield good(f"penyimpanan {path}: {text} terpakai", f"store {path}: {text} used")
        else:
            yield bad(f"penyimpanan hampir penuh: {text}", f"the store is nearly full: {text}",
                      "periksa sinkronisasi (data lama terkirim lalu dihapus) atau naikkan store_budget_mb",
                      "check the sync (sent data is evicted first) or raise store_budget_mb")  # fmt: skip
        yield from _backlog(cfg, store.backlog(), store.get_meta("downlink_last_success"))
    except AnjunganError as err:
        yield bad(f"penyimpanan tidak terbaca: {err}", f"the store cannot be read: {err}",
                  "lihat `journalctl -u anjungan-ingest`; pulihkan dari data/backups bila rusak",
                  "see `journalctl -u anjungan-ingest`; restore from data/backups if it is damaged")  # fmt: skip
        return False
    finally:
        store.close()
    return True


BACKLOG_AGE_S = 6 * 3600  # a record waiting longer than this means the sync is behind
SYNC_QUIET_MIN_S = 15 * 60  # no successful round for this long (or 3 intervals, if longer) needs a look


def _backlog(
    cfg: Config, backlog: Mapping[str, Mapping[str, Any]], pulled_ms: str | None
) -> Iterator[Finding]:
    """Per stream: refused records and how long the oldest has waited; then whether the sync runs at all
    (``pulled_ms``: when a round last pulled the central's changes, ms, as the sync records it)."""
    now_ms = time.time() * 1000
    for stream, info in backlog.items():
        pending, dead, oldest = info["pending"], info["dead_letters"], info["oldest_at"]
        age_s = (now_ms - oldest) / 1000 if oldest is not None else 0.0
        line_id = f"{stream}: {pending} menunggu sinkron, {dead} ditolak pusat"
        line_en = f"{stream}: {pending} waiting to sync, {dead} refused by the central"
        if dead:
            yield bad(line_id, line_en,
                      "lihat alasannya: `anjungan sync dead-letters list`; setelah diperbaiki: `anjungan sync "
                      "dead-letters retry`",
                      "see why: `anjungan sync dead-letters list`; after the fix: `anjungan sync dead-letters "
                      "retry`")  # fmt: skip
        elif cfg.central.url and age_s > BACKLOG_AGE_S:
            yield bad(f"{line_id}; yang tertua menunggu {age_s / 3600:.0f} jam",
                      f"{line_en}; the oldest has waited {age_s / 3600:.0f} h",
                      "periksa jaringan dan `anjungan sync status`", "check the link and `anjungan sync status`")  # fmt: skip
        else:
            yield good(line_id, line_en)
    if cfg.central.url:
        yield from _sync_running(cfg, backlog, pulled_ms)


def _sync_running(
    cfg: Config, backlog: Mapping[str, Mapping[str, Any]], pulled_ms: str | None
) -> Iterator[Finding]:
    """A round completes at least every [sync] interval_s while the sync runs and the central answers."""
    successes = [info["last_success"] for info in backlog.values() if info["last_success"]]
    successes += [int(pulled_ms)] if pulled_ms and pulled_ms.isdigit() else []
    quiet_s = max(SYNC_QUIET_MIN_S, 3 * cfg.sync.interval_s)
    last = max(successes) / 1000 if successes else None
    state = _unit_state("anjungan-sync")
    if state is not None and state != "active":
        yield bad(f"layanan anjungan-sync tidak berjalan ({state})", f"the anjungan-sync service is not running ({state})",
                  "`sudo systemctl enable --now anjungan-sync`; lihat `journalctl -u anjungan-sync`",
                  "`sudo systemctl enable --now anjungan-sync`; see `journalctl -u anjungan-sync`")  # fmt: skip
    elif last is None or time.time() - last > quiet_s:
        when = "belum pernah" if last is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(last))
        when_en = (
            "never" if last is None else f"not since {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(last))}"
        )
        yield bad(f"sinkron dengan pusat belum berhasil ({when})", f"no sync with the central succeeded ({when_en})",
                  "apakah anjungan-sync berjalan? `systemctl status anjungan-sync`; lalu `anjungan sync status`",
                  "is anjungan-sync running? `systemctl status anjungan-sync`; then `anjungan sync status`")  # fmt: skip
    else:
        ago = (time.time() - last) / 60
        yield good(f"sinkron berhasil {ago:.0f} menit lalu", f"the last sync succeeded {ago:.0f} min ago")


def _unit_state(unit: str) -> str | None:
    """``systemctl is-active`` of ``unit`` ("active", "inactive", "failed", ...; "disabled" when it is not
    enabled either), None where systemd does not run (a development machine)."""
    if not Path("/run/systemd/system").is_dir() or shutil.which("systemctl") is None:
        return None
    import subprocess

    def ask(verb: str) -> str:
        done = subprocess.run(["systemctl", verb, unit], capture_output=True, text=True, timeout=10)
        return done.stdout.strip() or "unknown"

    active = ask("is-active")
    if active != "active" and ask("is-enabled") != "enabled":
        return f"{active}, disabled"
    return active


def _disk(cfg: Config) -> Iterator[Finding]:
    folder = Path(cfg.data_dir)
    if not folder.exists():
        return
    free = shutil.disk_usage(folder).free
    if free > 500 << 20:
        yield good(
            f"{free / 1e9:.1f} GB kosong di disk {folder}",
            f"{free / 1e9:.1f} GB free on the disk of {folder}",
        )
    else:
        yield bad(f"disk hampir penuh: {free / 1e6:.0f} MB kosong", f"the disk is nearly full: {free / 1e6:.0f} MB free",
                  "hapus berkas lama (journalctl --vacuum-size=32M) atau ganti kartu SD yang lebih besar",
                  "remove old files (journalctl --vacuum-size=32M) or move to a larger SD card")  # fmt: skip
    written = _written_since_boot(folder)
    if written is not None:
        days = max(time.clock_gettime(time.CLOCK_BOOTTIME) / 86400, 1 / 24)
        per_day = written / days
        yield wear_finding(per_day)


WEAR_TARGET_BYTES_PER_DAY = 50e6  # the gateway's budget for the SD card (docs/deploy.md)
# which processes wrote the most since they started (bytes), with tools every Pi has
TOP_WRITERS = "sudo grep -H write_bytes /proc/[0-9]*/io | sort -t' ' -k2 -n | tail -5"


def wear_finding(per_day: float) -> Finding:
    """The SD card's wear from ``per_day`` bytes written a day: within the gateway's target (50 MB) or not."""
    line_id = f"kartu SD: {per_day / 1e6:.0f} MB ditulis per hari sejak boot (keausan; target ≤ 50 MB)"
    line_en = f"SD card: {per_day / 1e6:.0f} MB written a day since boot (wear; target ≤ 50 MB)"
    if per_day <= WEAR_TARGET_BYTES_PER_DAY:
        return good(line_id, line_en)
    return bad(line_id, line_en,
               f"penulis terbesar: `{TOP_WRITERS}`; [gateway] commit_interval_s = 120 (bawaan) mengurangi tulisan ingest "
               "(docs/deploy.md); pemasangan/pembaruan menulis banyak sekali: ulangi sehari kemudian",
               f"the biggest writers: `{TOP_WRITERS}`; [gateway] commit_interval_s = 120 (the default) cuts the ingest's writes "
               "(docs/deploy.md); an install or upgrade writes a lot once: look again a day later")  # fmt: skip


def _written_since_boot(folder: Path) -> int | None:
    """Bytes written to the block device holding ``folder`` since boot (/sys/dev/block/M:m/stat), or None."""
    dev = os.stat(folder).st_dev
    stat = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/stat")
    try:
        fields = stat.read_text().split()
        return int(fields[6]) * 512
    except (OSError, IndexError, ValueError):
        return None


def _permissions(cfg: Config) -> Iterator[Finding]:
    """Each file holding secrets or citizens' data, the data folder and every folder in it (files, pages,
    backups, run) must be private (gateway.private); at most :data:`LOOSE_SHOWN` are named, then a count."""
    from gateway import private

    data_dir = Path(cfg.data_dir)
    store = Path(cfg.store_path)
    paths = [store, Path(f"{store}-wal"), Path(f"{store}-shm"), data_dir / "kiosk.key", *_folders(data_dir)]
    loose = []
    if cfg.path and (why := _config_loose(Path(cfg.path))) is not None:
        loose.append((Path(cfg.path), why))
    loose += [(path, why) for path in paths if (why := private.loose(path)) is not None]
    for path, why in loose[:LOOSE_SHOWN]:
        fix_id, fix_en = _private_fix(path, config=cfg.path is not None and path == Path(cfg.path))
        yield bad(f"{path} tidak privat: {why}", f"{path} is not private: {why}", fix_id, fix_en)
    if len(loose) > LOOSE_SHOWN:
        more = len(loose) - LOOSE_SHOWN
        yield bad(f"{more} folder/berkas lain di {data_dir} juga tidak privat",
                  f"{more} more folders or files in {data_dir} are not private either",
                  f"chmod -R go-rwx {data_dir}", f"chmod -R go-rwx {data_dir}")  # fmt: skip
    if not loose and (cfg.path or data_dir.exists()):
        yield good("konfigurasi, penyimpanan dan folder data (beserta isinya) privat",
                   "configuration, store and data folders are private to their owner")  # fmt: skip


def _private_fix(path: Path, *, config: bool) -> tuple[str, str]:
    """The command that makes ``path`` private: a folder 0700, a file 0600, the configuration also 0640 to the
    service group when root owns it (hardware/install-pi.sh)."""
    if config:
        return (f"chmod 0600 {path} (di lapangan: sudo chown root:anjungan {path} && sudo chmod 0640 {path})",
                f"chmod 0600 {path} (in the field: sudo chown root:anjungan {path} && sudo chmod 0640 {path})")  # fmt: skip
    mode = "0700" if path.is_dir() else "0600"
    return f"chmod {mode} {path}", f"chmod {mode} {path}"


LOOSE_SHOWN = 8  # loose paths named one by one; the rest are counted


def _folders(data_dir: Path) -> list[Path]:
    """The data folder and every folder below it (the gateway creates them all 0700), data folder first."""
    found = [data_dir]
    for root, dirs, _files in os.walk(data_dir):
        found += [Path(root) / name for name in sorted(dirs)]
    return found


def _config_loose(path: Path) -> str | None:
    """The configuration may be 0640 to the service group when root owns it (hardware/install-pi.sh)."""
    from gateway import private

    try:
        info = path.stat()
    except OSError:
        return None
    if info.st_uid == 0 and info.st_mode & 0o777 == 0o640:
        return None
    return private.loose(path)


def _store_damage(path: Path) -> str | None:
    """Why the file at ``path`` is no usable store (not a SQLite database, damaged pages, no migrations table:
    not anjungan's), or None. Reads only."""
    from gateway.errors import StoreError
    from gateway.store import readonly

    try:
        why = readonly.damage(path)
        conn = readonly.connect(path) if why is None else None
    except (OSError, StoreError):
        return None  # unreadable (permissions): the store's own check says so
    if conn is None:
        return why
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as err:
        return str(err) if readonly.is_damaged(err) else None  # another trouble: the checks below say it
    finally:
        conn.close()
    return None if "migrations" in tables else "it has no migrations table: it is not an anjungan store"


def _damaged(path: Path, why: str) -> Finding:
    backups = path.parent / "backups"
    return bad(f"penyimpanan {path} rusak: {why}", f"the store {path} is damaged: {why}",
               f"hentikan layanan (`sudo systemctl stop anjungan-ingest anjungan-kiosk anjungan-sync`), simpan "
               f"berkas rusak untuk diperiksa, salin cadangan terbaru dari {backups} ke {path}, lalu `sudo "
               "anjungan upgrade` dan nyalakan layanan; tanpa cadangan: `anjungan init` membuat yang baru",
               f"stop the services (`sudo systemctl stop anjungan-ingest anjungan-kiosk anjungan-sync`), keep the "
               f"damaged file for a look, copy the newest backup from {backups} to {path}, then `sudo anjungan "
               "upgrade` and start the services; without a backup `anjungan init` makes a new one")  # fmt: skip


def _kiosk(cfg: Config) -> Iterator[Finding]:
    host = "127.0.0.1" if cfg.kiosk.host in ("", "0.0.0.0") else cfg.kiosk.host
    yield _reachable(host, cfg.kiosk.port, "kiosk", "kiosk", "systemctl restart anjungan-kiosk",
                     "systemctl restart anjungan-kiosk")  # fmt: skip
    if _process_running("chromium") or _process_running("chromium-browse"):
        yield good("layar: Chromium berjalan", "screen: Chromium is running")
    else:
        yield bad("layar: Chromium tidak berjalan", "screen: Chromium is not running",
                  "systemctl restart anjungan-screen; lihat journalctl -u anjungan-screen",
                  "systemctl restart anjungan-screen; see journalctl -u anjungan-screen")  # fmt: skip


def _process_running(name: str) -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    return True
            except OSError:
                continue
    return False


def _connect_problem(host: str, port: int) -> str | None:
    """None when a TCP connection to ``host:port`` opens within 3 s, else why not."""
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as err:
        return err.strerror or str(err)


def _reachable(host: str, port: int, what_id: str, what_en: str, fix_id: str, fix_en: str) -> Finding:
    reason = _connect_problem(host, port)
    if reason is None:
        return good(f"{what_id} di {host}:{port} menjawab", f"{what_en} at {host}:{port} answers")
    return bad(f"{what_id} di {host}:{port} tidak menjawab ({reason})",
               f"{what_en} at {host}:{port} does not answer ({reason})", fix_id, fix_en)  # fmt: skip


def _nodes(cfg: Config) -> Iterator[Finding]:
    from gateway.store import Store

    with Store(Path(cfg.store_path), readonly=True) as store:
        nodes = store.nodes()
    if not nodes:
        yield bad("belum ada node yang terbaca", "no node has been read yet",
                  "colokkan/flash node (docs/deploy.md), lalu `anjungan node monitor --port ...`",
                  "plug in or flash a node (docs/deploy.md), then `anjungan node monitor --port ...`")  # fmt: skip
    now = time.time()
    for node in nodes:
        ago = (now - node["last_seen"] / 1000) / 60
        name = node["node"]
        if node["online"]:
            yield good(f"node {name}: daring, terakhir {ago:.0f} menit lalu",
                       f"node {name}: online, last seen {ago:.0f} min ago")  # fmt: skip
        else:
            yield bad(f"node {name}: luring sejak {ago:.0f} menit", f"node {name}: offline for {ago:.0f} min",
                      "periksa daya, kabel/WiFi node; `anjungan node monitor --port ...`",
                      "check the node's power and cable or WiFi; `anjungan node monitor --port ...`")  # fmt: skip


def _serial(cfg: Config) -> Iterator[Finding]:
    configured = {entry.port for entry in cfg.serial}
    for port in sorted(configured):
        if os.path.exists(port):
            yield good(f"port serial {port} ada", f"serial port {port} is present")
        else:
            yield bad(f"port serial {port} tidak ada", f"serial port {port} is missing",
                      "colokkan node; nama tetap ada di /dev/anjungan-node-* (aturan udev)",
                      "plug the node in; stable names are /dev/anjungan-node-* (udev rule)")  # fmt: skip
    named = sorted(str(p) for p in Path("/dev").glob("anjungan-node-*"))
    for path in named:
        if path not in configured and os.path.realpath(path) not in configured:
            yield bad(f"{path} tercolok tetapi tidak ada di [[serial]]", f"{path} is plugged in but not in [[serial]]",
                      "tambahkan [[serial]] port = \"" + path + "\" lalu systemctl restart anjungan-ingest",
                      "add [[serial]] port = \"" + path + "\", then systemctl restart anjungan-ingest")  # fmt: skip


def _operator(cfg: Config) -> Iterator[Finding]:
    """The operator pages (health, refused submissions, the printer test) need a password hash."""
    if cfg.kiosk.operator_password_hash:
        yield good("halaman operator aktif (/operator/)", "the operator pages are on (/operator/)")
    else:
        yield bad("halaman operator mati: [kiosk] operator_password_hash kosong",
                  "the operator pages are off: [kiosk] operator_password_hash is empty",
                  "`sudo anjungan kiosk --hash-password`, salin hasilnya ke operator_password_hash, lalu "
                  "`sudo systemctl restart anjungan-kiosk` (docs/deploy.md)",
                  "`sudo anjungan kiosk --hash-password`, put what it prints in operator_password_hash, then "
                  "`sudo systemctl restart anjungan-kiosk` (docs/deploy.md)")  # fmt: skip


def _printer(cfg: Config) -> Iterator[Finding]:
    """The receipt printer as the kiosk would open it, read with the kiosk's own parser (gateway/printerspec.py):
    a setting the kiosk cannot use is a finding; the device opened for writing, the host connected."""
    from gateway.printerspec import PrinterError, parse_printer

    spec = cfg.kiosk.printer
    if not spec:
        return
    try:
        target = parse_printer(spec)
    except PrinterError as err:
        yield bad(f"setelan printer tidak bisa dipakai kios: {err}", f"the kiosk cannot use the printer setting: {err}",
                  "isi [kiosk] printer = \"file:/dev/usb/lp0\" (lihat `ls /dev/usb/`), serial:DEV atau "
                  "network:HOST[:PORT], lalu `sudo systemctl restart anjungan-kiosk`",
                  "set [kiosk] printer = \"file:/dev/usb/lp0\" (see `ls /dev/usb/`), serial:DEV or "
                  "network:HOST[:PORT], then `sudo systemctl restart anjungan-kiosk`")  # fmt: skip
        return
    if target.kind in ("serial", "file"):
        problem = _open_for_writing(target.device)
    else:
        refused = _connect_problem(target.host, target.port)
        problem = None if refused is None else (refused, "")
    if problem is None:
        yield good(
            f"printer struk {spec} dapat dibuka untuk mencetak",
            f"receipt printer {spec} can be opened to print",
        )
    else:
        reason, hint = problem
        yield bad(f"printer struk {spec} tidak dapat dibuka ({reason})", f"receipt printer {spec} cannot be opened ({reason})",
                  f"periksa kabel dan daya printer{hint}", f"check the printer's cable and power{hint}")  # fmt: skip


def _open_for_writing(path: str) -> tuple[str, str] | None:
    """None when ``path`` (a printer device) opens for writing now; else (why, a hint for the fix). Writes
    nothing and never creates the file."""
    import errno

    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        hints = {errno.ENOENT: "; `ls /dev/usb/` shows the printer's device once it is on",
                 errno.EACCES: "; the kiosk's user must be allowed to write it (/dev/usb/lp*: group lp, which "
                               "hardware/install-pi.sh gives it)",
                 errno.EBUSY: "; another program holds the printer"}  # fmt: skip
        return err.strerror or str(err), hints.get(err.errno or 0, "")
    os.close(fd)
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip().lower()
    except OSError:
        return ""


def _hex(text: str) -> int | None:
    """A USB id as sysfs writes it (``0416``), or None."""
    try:
        return int(text, 16)
    except ValueError:
        return None


def kernel_clock_synchronized() -> bool | None:
    """Whether the kernel's clock is synchronized (NTP or chrony), by adjtimex(2): TIME_ERROR (5) is not."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    buf = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only, needs no privilege
    try:
        state = ctypes.CDLL(libc_name, use_errno=True).adjtimex(buf)
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state != 5


def _clock(cfg: Config) -> Iterator[Finding]:
    from gateway.store import readonly
    from gateway.store.clock import learned_offset, read_learned

    synced = kernel_clock_synchronized()
    offset = checked_at = None
    if Path(cfg.store_path).exists():
        try:
            conn = readonly.connect(Path(cfg.store_path))
            try:
                offset, checked_at = learned_offset(conn), read_learned(conn).checked_at
            finally:
                conn.close()
        except (AnjunganError, sqlite3.Error):
            offset = None  # the store's own finding says why
    if synced:
        yield good("jam: tersinkron NTP", "clock: synchronized by NTP")
    elif offset is not None and abs(offset) < 60_000:
        # when the sync last compared it: the central may be out of reach now (its own finding says so)
        minutes = None if checked_at is None else max(0, round((time.time() * 1000 - checked_at) / 60_000))
        ago_id = "" if minutes is None else f", diperiksa {minutes} menit lalu"
        ago_en = "" if minutes is None else f", checked {minutes} min ago"
        yield good(
            f"jam: sesuai jam pusat ({offset / 1000:+.0f} s{ago_id})",
            f"clock: agrees with the central's ({offset / 1000:+.0f} s{ago_en})",
        )
    else:
        detail = "tidak diketahui" if offset is None else f"{offset / 1000:+.0f} s dari pusat"
        yield bad(f"jam belum pasti benar ({detail}); NTP belum tersinkron",
                  f"the clock is not known good ({'unknown' if offset is None else f'{offset / 1000:+.0f} s off the central'}); NTP is not synchronized",
                  "pastikan jaringan; `sudo systemctl start anjungan-clock-central` mengambil jam dari pusat",
                  "check the link; `sudo systemctl start anjungan-clock-central` takes the central's time")  # fmt: skip


NET_TIMEOUT_S = 5  # each connect and read of a network check
NET_DEADLINE_S = 15  # a whole network check, however slowly the answer drips in


def network_errors() -> tuple[type[BaseException], ...]:
    """What a request to the central raises when it fails on the way: requests' errors, urllib3's own (reading
    a body after the headers: a stall, a cut) and the socket's; :func:`network_reason` says why in words."""
    import requests
    import urllib3

    return (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


def _causes(err: BaseException) -> Iterator[BaseException]:
    """``err`` and what it wraps (``__cause__``, ``__context__``, urllib3's ``reason``, exceptions among
    ``args``), breadth first, each once."""
    seen: set[int] = set()
    todo = [err]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        try:
            inner = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        except Exception:  # (an odd exception: args not a tuple, a reason property that fails)
            inner = [current.__cause__, current.__context__]
        todo += [e for e in inner if isinstance(e, BaseException)]


def network_reason(err: BaseException) -> tuple[str, str]:
    """Why a request to the central failed, in plain words: (Bahasa Indonesia, English), one line each, never
    empty, at most about 200 characters; it never raises.

    requests and urllib3 wrap the cause several times and name their connection pool ("HTTPConnectionPool(
    host=..., port=...): Max retries exceeded with url: ... (Caused by NewConnectionError(...))"); the
    technician needs the cause: refused, no name, no route, no answer in time, cut, TLS, an HTTP status.
    Anything else is its own message's first line that is not blank.
    """
    try:
        return _network_reason(err)
    except Exception:  # an exception whose str() or attributes fail: its kind is still something to say
        return type(err).__name__, type(err).__name__


def _one_line(text: object, fallback: str) -> str:
    try:
        lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    except Exception:
        lines = []
    return (lines[0] if lines else fallback)[:200]


def _network_reason(err: BaseException) -> tuple[str, str]:
    import ssl
    from http.client import IncompleteRead

    import requests

    for cause in _causes(err):
        if isinstance(cause, requests.HTTPError) and cause.response is not None:
            status = _one_line(f"{cause.response.status_code} {cause.response.reason or ''}", "?")
            return f"pusat menjawab HTTP {status}", f"it answered HTTP {status}"
        if isinstance(cause, ConnectionRefusedError):
            return ("sambungan ditolak (tidak ada yang mendengarkan di port itu, atau firewall menolak)",
                    "the connection was refused (nothing listens on that port, or a firewall refuses it)")  # fmt: skip
        if isinstance(cause, socket.gaierror):
            return ("nama host tidak dapat diterjemahkan (DNS: periksa koneksi modem dan url)",
                    "the host name does not resolve (DNS: check the modem's link and the url)")  # fmt: skip
        if isinstance(cause, DeadlineExceeded):
            return (f"tidak ada jawaban utuh dalam {cause.seconds:.0f} s (jawaban datang terlalu lambat)",
                    str(cause))  # fmt: skip
        if isinstance(cause, (TimeoutError, requests.Timeout)) or type(cause).__name__ == "ReadTimeoutError":
            return "tidak ada jawaban tepat waktu", "no answer in time"
        if isinstance(cause, ssl.SSLError):
            detail = _one_line(
                getattr(cause, "reason", None) or getattr(cause, "strerror", None) or cause,
                type(cause).__name__,
            )
            return f"TLS gagal ({detail})", f"TLS failed ({detail})"
        if isinstance(
            cause, ConnectionResetError | ConnectionAbortedError | BrokenPipeError | IncompleteRead
        ):
            return "sambungan terputus di tengah jalan", "the connection was cut"
        if isinstance(cause, OSError) and cause.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return ("jaringan tidak terjangkau (tidak ada rute: periksa modem/SIM)",
                    "the network is unreachable (no route: check the modem/SIM)")  # fmt: skip
    first = _one_line(err, type(err).__name__)
    return first, first


def _central(cfg: Config) -> Iterator[Finding]:
    if not cfg.central.url:
        yield bad("belum tersambung ke pusat: yang dikumpulkan kios tidak terkirim",
                  "no central configured: nothing this kiosk collects reaches the central",
                  "isi [central] url, gateway_id dan secret (docs/deploy.md langkah 5)",
                  "fill in [central] url, gateway_id and secret (docs/deploy.md step 5)")  # fmt: skip
        return
    import requests

    base = cfg.central.url.rstrip("/")

    def ask_time() -> None:  # the answer is read to 64 KiB at most, unpacked: it cannot flood memory
        with requests.get(base + "/api/v1/time", timeout=NET_TIMEOUT_S, stream=True,
                          headers={"Accept-Encoding": "identity"}) as answer:  # fmt: skip
            answer.raise_for_status()
            body = answer.raw.read(64 << 10, decode_content=False)
            encoding = answer.headers.get("Content-Encoding", "identity").lower()
            if encoding != "identity" or body.startswith(b"\x1f\x8b"):
                raise ValueError(f"the answer is compressed ({encoding if encoding != 'identity' else 'gzip'}) "
                                 "although none was asked for: a proxy or captive portal in between?")  # fmt: skip
            try:
                float(json.loads(body)["time"])
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"the answer is not the central's time: {body[:60]!r}") from None

    # and an answer that is not the time
    failures: tuple[type[BaseException], ...] = (*network_errors(), ValueError, KeyError, TypeError)
    try:
        _within(NET_DEADLINE_S, ask_time)
    except failures as err:
        why_id, why_en = network_reason(err)
        yield bad(f"pusat {base} tidak terjangkau: {why_id}", f"central {base} cannot be reached: {why_en}",
                  "periksa modem/SIM dan [central] url", "check the modem/SIM and [central] url")  # fmt: skip
        return
    yield good(f"pusat {base} menjawab", f"central {base} answers")
    if not (cfg.central.gateway_id and cfg.central.secret):
        yield bad("kredensial pusat kosong", "no central credentials",
                  "isi [central] gateway_id dan secret (dari `anjungan central add-gateway`)",
                  "set [central] gateway_id and secret (from `anjungan central add-gateway`)")  # fmt: skip
        return
    # a signed request for a file that does not exist: 404 means the credentials were accepted, 401 not
    target = "/api/v1/files/" + "0" * 64
    stamp = str(int(time.time()))
    message = f"{stamp}\nGET\n{target}\n".encode()
    signature = hmac.new(cfg.central.secret.encode(), message, hashlib.sha256).hexdigest()
    headers = {"X-Anjungan-Gateway": cfg.central.gateway_id, "X-Anjungan-Timestamp": stamp,
               "X-Anjungan-Signature": signature}  # fmt: skip

    def ask_signed() -> tuple[int, bytes]:
        with requests.get(base + target, headers=headers, timeout=NET_TIMEOUT_S, stream=True) as answer:
            return int(answer.status_code), answer.raw.read(4096, decode_content=True) or b""

    try:
        status, body = _within(NET_DEADLINE_S, ask_signed)
    except network_errors() as err:
        why_id, why_en = network_reason(err)
        yield bad(f"pusat tidak menjawab permintaan bertanda: {why_id}", f"the central did not answer a signed request: {why_en}",
                  "coba lagi nanti", "try again later")  # fmt: skip
        return
    if status == 401:
        yield bad("pusat menolak kredensial gateway ini", "the central refuses this gateway's credentials",
                  "periksa [central] gateway_id/secret; jam yang salah juga ditolak (lihat jam di atas)",
                  "check [central] gateway_id and secret; a wrong clock is refused too (see the clock above)")  # fmt: skip
    elif _central_not_found(status, body):
        yield good("pusat menerima kredensial gateway ini", "the central accepts this gateway's credentials")
    else:
        yield bad(f"kredensial belum terbukti: pusat menjawab HTTP {status} atas permintaan bertanda",
                  f"the credentials are not confirmed: the central answered HTTP {status} to a signed request",
                  "pastikan [central] url menuju pusat sendiri (bukan proxy/portal); `anjungan sync now` "
                  "menunjukkan jawabannya",
                  "check that [central] url leads to the central itself (no proxy or portal in between); "
                  "`anjungan sync now` shows what it answers")  # fmt: skip


def _central_not_found(status: int, body: bytes) -> bool:
    """The central's own answer for a file it does not have, which it gives only to a gateway whose signature it
    accepted: 404 with ``{"error": "not found", "detail": "no file ..."}`` (sync/central/api.py)."""
    if status != 404:
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and str(answer.get("detail", "")).startswith("no file")
