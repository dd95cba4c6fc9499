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
import hashlib
import hmac
import json
import os
import shutil
import socket
import sqlite3
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def run_checks(cfg: Any) -> Iterator[Finding]:
    """Every finding for configuration ``cfg`` (a :class:`gateway.config.Config`), in the technician's order."""
    yield from _configuration(cfg)
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
    yield from _printer(cfg)
    yield from _clock(cfg)
    yield from _central(cfg)


def _configuration(cfg: Any) -> Iterator[Finding]:
    if cfg.path:
        yield good(f"konfigurasi dibaca dari {cfg.path}", f"configuration read from {cfg.path}")
    else:
        yield bad(
            "tidak ada berkas konfigurasi (memakai bawaan)",
            "no configuration file (using built-in defaults)",
            "buat dengan `anjungan init`, atau beri --config /etc/anjungan/gateway.toml",
            "create one with `anjungan init`, or pass --config /etc/anjungan/gateway.toml",
        )


def _store(cfg: Any) -> Generator[Finding, None, bool]:
    from gateway.store import Store, db

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
        pending = db.pending_migrations(store.conn)
        if pending:
            yield bad(f"penyimpanan perlu diperbarui ({len(pending)} migrasi)",
                      f"the store needs an upgrade ({len(pending)} migrations pending)",
                      "jalankan `anjungan upgrade` (cadangan dibuat dulu)",
                      "run `anjungan upgrade` (it makes a backup first)")  # fmt: skip
            return False
        used, budget = store.used_bytes(), int(cfg.gateway.store_budget_mb) << 20
        text = f"{used / 1e6:.1f} MB / {budget / 1e6:.0f} MB"
        if used < budget * 0.9:
            yield good(f"penyimpanan {path}: {text} terpakai", f"store {path}: {text} used")
        else:
            yield bad(f"penyimpanan hampir penuh: {text}", f"the store is nearly full: {text}",
                      "periksa sinkronisasi (data lama terkirim lalu dihapus) atau naikkan store_budget_mb",
                      "check the sync (sent data is evicted first) or raise store_budget_mb")  # fmt: skip
        for stream, info in store.backlog().items():
            yield good(f"{stream}: {info['pending']} menunggu sinkron, {info['dead_letters']} ditolak",
                       f"{stream}: {info['pending']} waiting to sync, {info['dead_letters']} refused")  # fmt: skip
    except AnjunganError as err:
        yield bad(f"penyimpanan tidak terbaca: {err}", f"the store cannot be read: {err}",
                  "lihat `journalctl -u anjungan-ingest`; pulihkan dari data/backups bila rusak",
                  "see `journalctl -u anjungan-ingest`; restore from data/backups if it is damaged")  # fmt: skip
        return False
    finally:
        store.close()
    return True


def _disk(cfg: Any) -> Iterator[Finding]:
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
        line_id = f"kartu SD: {per_day / 1e6:.0f} MB ditulis per hari sejak boot (keausan)"
        line_en = f"SD card: {per_day / 1e6:.0f} MB written a day since boot (wear)"
        if per_day < 200e6:
            yield good(line_id, line_en)
        else:
            yield bad(line_id, line_en, "cari proses yang banyak menulis: `iotop -ao`; batas log: journald.conf.d",
                      "find the process writing the most: `iotop -ao`; log limits: journald.conf.d")  # fmt: skip


def _written_since_boot(folder: Path) -> int | None:
    """Bytes written to the block device holding ``folder`` since boot (/sys/dev/block/M:m/stat), or None."""
    dev = os.stat(folder).st_dev
    stat = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/stat")
    try:
        fields = stat.read_text().split()
        return int(fields[6]) * 512
    except (OSError, IndexError, ValueError):
        return None


def _permissions(cfg: Any) -> Iterator[Finding]:
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
        yield bad(f"{path} tidak privat: {why}", f"{path} is not private: {why}",
                  f"chmod go-rwx {path} (konfigurasi lapangan: chmod 0640, grup anjungan)",
                  f"chmod go-rwx {path} (the field configuration: chmod 0640, group anjungan)")  # fmt: skip
    if len(loose) > LOOSE_SHOWN:
        more = len(loose) - LOOSE_SHOWN
        yield bad(f"{more} folder/berkas lain di {data_dir} juga tidak privat",
                  f"{more} more folders or files in {data_dir} are not private either",
                  f"chmod -R go-rwx {data_dir}", f"chmod -R go-rwx {data_dir}")  # fmt: skip
    if not loose and (cfg.path or data_dir.exists()):
        yield good("konfigurasi, penyimpanan dan folder data (beserta isinya) privat",
                   "configuration, store and data folders are private to their owner")  # fmt: skip


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


def _kiosk(cfg: Any) -> Iterator[Finding]:
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


def _reachable(host: str, port: int, what_id: str, what_en: str, fix_id: str, fix_en: str) -> Finding:
    try:
        with socket.create_connection((host, port), timeout=3):
            return good(f"{what_id} di {host}:{port} menjawab", f"{what_en} at {host}:{port} answers")
    except OSError as err:
        reason = err.strerror or str(err)
        return bad(f"{what_id} di {host}:{port} tidak menjawab ({reason})",
                   f"{what_en} at {host}:{port} does not answer ({reason})", fix_id, fix_en)  # fmt: skip


def _nodes(cfg: Any) -> Iterator[Finding]:
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


def _serial(cfg: Any) -> Iterator[Finding]:
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


def _printer(cfg: Any, usb_devices: Path = Path("/sys/bus/usb/devices")) -> Iterator[Finding]:
    """The receipt printer, read with the kiosk's own parser (gateway/printing.py): a setting the kiosk cannot
    use is a finding, as is a printer that is not there (USB ids under ``usb_devices``, a device path, a host
    that does not answer)."""
    from gateway.printing import PrinterError, parse_printer

    spec = str(cfg.kiosk.printer)
    if not spec:
        return
    try:
        target = parse_printer(spec)
    except PrinterError as err:
        yield bad(f"setelan printer tidak bisa dipakai kios: {err}", f"the kiosk cannot use the printer setting: {err}",
                  "perbaiki [kiosk] printer (usb:VID:PID, serial:DEV, network:HOST[:PORT], file:PATH), lalu "
                  "`sudo systemctl restart anjungan-kiosk`",
                  "fix [kiosk] printer (usb:VID:PID, serial:DEV, network:HOST[:PORT], file:PATH), then "
                  "`sudo systemctl restart anjungan-kiosk`")  # fmt: skip
        return
    present: bool
    if target.kind == "usb":
        present = any(
            _hex(_read(d / "idVendor")) == target.vendor and _hex(_read(d / "idProduct")) == target.product
            for d in usb_devices.glob("*")
        )
    elif target.kind in ("serial", "file"):
        present = os.path.exists(target.device)
    else:
        present = _reachable(target.host, target.port, "", "", "", "").ok
    if present:
        yield good(f"printer struk {spec} terhubung", f"receipt printer {spec} is connected")
    else:
        yield bad(f"printer struk {spec} tidak ditemukan", f"receipt printer {spec} is not found",
                  "periksa kabel dan daya printer", "check the printer's cable and power")  # fmt: skip


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


def _clock(cfg: Any) -> Iterator[Finding]:
    from gateway.store import readonly
    from gateway.store.clock import learned_offset

    synced = kernel_clock_synchronized()
    offset = None
    if Path(cfg.store_path).exists():
        try:
            conn = readonly.connect(Path(cfg.store_path))
            try:
                offset = learned_offset(conn)
            finally:
                conn.close()
        except (AnjunganError, sqlite3.Error):
            offset = None  # the store's own finding says why
    if synced:
        yield good("jam: tersinkron NTP", "clock: synchronized by NTP")
    elif offset is not None and abs(offset) < 60_000:
        yield good(
            f"jam: sesuai jam pusat ({offset / 1000:+.0f} s)",
            f"clock: agrees with the central's ({offset / 1000:+.0f} s)",
        )
    else:
        detail = "tidak diketahui" if offset is None else f"{offset / 1000:+.0f} s dari pusat"
        yield bad(f"jam belum pasti benar ({detail}); NTP belum tersinkron",
                  f"the clock is not known good ({'unknown' if offset is None else f'{offset / 1000:+.0f} s off the central'}); NTP is not synchronized",
                  "pastikan jaringan; `systemctl start anjungan-clock-central` mengambil jam dari pusat",
                  "check the link; `systemctl start anjungan-clock-central` takes the central's time")  # fmt: skip


NET_TIMEOUT_S = 5  # each connect and read of a network check
NET_DEADLINE_S = 15  # a whole network check, however slowly the answer drips in


def _central(cfg: Any) -> Iterator[Finding]:
    if not cfg.central.url:
        yield good("tidak ada pusat: kios bekerja luring, tidak ada sinkronisasi",
                   "no central configured: the kiosk works offline and nothing syncs")  # fmt: skip
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

    try:
        _within(NET_DEADLINE_S, ask_time)
    except (requests.RequestException, ValueError, KeyError, TypeError, OSError) as err:
        yield bad(f"pusat {base} tidak terjangkau: {err}", f"central {base} cannot be reached: {err}",
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

    def ask_signed() -> int:
        with requests.get(base + target, headers=headers, timeout=NET_TIMEOUT_S, stream=True) as answer:
            return int(answer.status_code)  # the body is never read

    try:
        status = _within(NET_DEADLINE_S, ask_signed)
    except (requests.RequestException, OSError) as err:
        yield bad(f"pusat tidak menjawab permintaan bertanda: {err}", f"the central did not answer a signed request: {err}",
                  "coba lagi nanti", "try again later")  # fmt: skip
        return
    if status == 401:
        yield bad("pusat menolak kredensial gateway ini", "the central refuses this gateway's credentials",
                  "periksa [central] gateway_id/secret; jam yang salah juga ditolak (lihat jam di atas)",
                  "check [central] gateway_id and secret; a wrong clock is refused too (see the clock above)")  # fmt: skip
    else:
        yield good("pusat menerima kredensial gateway ini", "the central accepts this gateway's credentials")
