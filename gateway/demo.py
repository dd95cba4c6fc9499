"""``anjungan demo``: the whole system on one machine, on embedded defaults.

It keeps everything in the demo folder: a local central (SQLite) with this gateway registered and the sample
content published there (gateway/sample_content.py: officers edit or withdraw it on the back office's Publikasi
page, and it reaches the kiosk through the downlink in the first sync round), three simulated nodes (water level,
weather, power) on pseudo-terminals, and the gateway's ingest, kiosk and sync, each a supervised child process
with its log in ``<demo dir>/logs/``. Ctrl-C stops everything (and a killed demo
takes its children along: see gateway/supervise.py); running it again carries on with the same data.

A demo holds its folder for its whole life: an exclusive ``flock`` on ``<demo dir>/demo.lock`` (which says its
pid), taken before anything in the folder is written, so that a second demo on the same folder refuses instead
of rewriting the first one's configuration, restarting its nodes and removing its device links. The kernel drops
the lock when the demo ends, however it ends.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway import config as config_mod
from gateway import private
from gateway.errors import AnjunganError
from gateway.store import Store
from gateway.supervise import Child, Supervisor, anjungan_argv

GATEWAY_ID = "demo-wonosalam"
NODES = (("demo-wl-01", "water-level"), ("demo-wx-01", "weather"), ("demo-pw-01", "power"))
NODE_INTERVAL_S = 5
# Where the demo's nodes stand (shown on the kiosk's conditions page: [kiosk] node_labels).
NODE_PLACES = {
    "demo-wl-01": "Sungai Tuntang, Jembatan Wonosalam",
    "demo-wx-01": "Halaman Kantor Kecamatan Wonosalam",
    "demo-pw-01": "Kantor Kecamatan Wonosalam, panel listrik",
}


# Where the kiosk and its nodes stand on the central's fleet map (WGS 84), and who owns each node's data.
KIOSK_PLACE = ("Kantor Kecamatan Wonosalam", -6.9012, 110.6735)
NODE_COORDINATES = {"demo-wl-01": (-6.8968, 110.6801), "demo-wx-01": (-6.9015, 110.6741),
                    "demo-pw-01": (-6.9010, 110.6731)}  # fmt: skip
NODE_PRODUCERS = {"demo-wl-01": "bpbd", "demo-wx-01": "bpbd", "demo-pw-01": "dispu"}
# The OPDs owning the demo's nodes (the producers of their open data), added at the central before they are set.
DEMO_OPDS = {
    "bpbd": "BPBD Kabupaten Demak",
    "dispu": "Dinas Pekerjaan Umum dan Penataan Ruang Kabupaten Demak",
}
# The Kemendagri code of Kecamatan Wonosalam, Kabupaten Demak (Satu Data kode referensi of the kiosk's data).
REGION_CODE = "33.21.08"
PLACES_BY = "admin"  # the demo officer named in the central's audit trail for the places set at the first run
ALERTS_EVERY_S = "10"  # the demo's central evaluates alerts often, so that they show within seconds
LOCK_NAME = "demo.lock"  # in the demo folder: locked by the demo that runs there, and holding its pid


class DemoFolderBusyError(AnjunganError):
    """Another demo runs in the demo folder (holds its lock)."""


def _how_to_run(options: str) -> str:
    """Both ways to start the demo with ``options``: ``make demo DEMO_ARGS=...`` and the command itself."""
    return f'make demo DEMO_ARGS="{options}" or .venv/bin/anjungan demo {options}'


def lock_folder(demo_dir: Path) -> int:
    """Take the demo folder ``demo_dir`` (created if missing) for this process: an exclusive ``flock`` on its
    ``demo.lock``, which then holds this process's pid. Returns the lock file's descriptor: the folder is held
    until it is closed or the process ends (it is not inherited by children).

    Raises DemoFolderBusyError naming the folder, the running demo's pid (when the file says it) and the way
    out when another process holds it; AnjunganError when the folder or its lock file cannot be made or opened
    (a lock file that is a symbolic link is never followed).
    """
    try:
        demo_dir.mkdir(parents=True, exist_ok=True)
        # never through a link: a demo run as root must not write its pid into a file the link points to
        fd = os.open(demo_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, private.FILE_MODE)
    except OSError as err:
        raise AnjunganError(
            f"cannot take the demo folder {demo_dir}: {demo_dir / LOCK_NAME}: {err.strerror or err} (a demo needs "
            "a folder of its own, writable by this user: choose another with --dir)"
        ) from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        who = f"pid {holder}" if holder.isdigit() else "pid unknown"
        raise DemoFolderBusyError(
            f"another demo runs in {demo_dir} ({who}): stop it first (Ctrl-C in its terminal), or start this "
            f"one in another folder on other ports: {_how_to_run('--dir OTHER --kiosk-port N --central-port M')}"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _central_db(demo_dir: Path) -> str:
    return f"sqlite:///{demo_dir / 'central' / 'central.db'}"


def _quiet(_line: str) -> None:
    """An echo that prints nothing."""


def _credentials(demo_dir: Path, echo: Callable[[str], object] = _quiet) -> dict[str, str]:
    """This gateway's id and secret at the demo's central, registered on the first run (saying so first)."""
    path = demo_dir / "central" / "credentials.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    echo("  creating the demo's central and registering the kiosk there ...")
    private.ensure_dir(path.parent)  # the central's secret for this gateway
    result = subprocess.run(
        anjungan_argv("central", "--db", _central_db(demo_dir), "add-gateway", GATEWAY_ID),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise AnjunganError(f"cannot register the demo gateway at the central: {result.stderr.strip()}")
    credentials = json.loads(result.stdout)
    private.write_text(path, json.dumps(credentials))
    return dict(credentials)


def _operator(demo_dir: Path) -> tuple[str, str | None]:
    """The kiosk operator's password hash, made on the first run; and the password itself only then."""
    path = demo_dir / "central" / "kiosk-operator.json"  # the hash only, 0600
    if path.exists():
        return str(json.loads(path.read_text())["hash"]), None
    from werkzeug.security import generate_password_hash

    password = secrets.token_urlsafe(9)
    private.write_text(path, json.dumps({"hash": generate_password_hash(password)}))
    return str(json.loads(path.read_text())["hash"]), password


def check_ports(**ports: int) -> None:
    """Raise AnjunganError naming every one of ``ports`` (option name -> port) that something else already
    listens on, and how to start the demo with others (``make demo DEMO_ARGS=...`` or the command); the demo
    starts nothing then."""
    if len(set(ports.values())) < len(ports):
        options = " and ".join(f"--{name.replace('_', '-')} {port}" for name, port in ports.items())
        raise AnjunganError(f"{options}: each part of the demo needs a port of its own")
    taken = []
    for name, port in ports.items():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                taken.append((f"--{name.replace('_', '-')}", port))
    if not taken:
        return
    options = " ".join(f"{option} {'NMK'[i]}" for i, (option, _port) in enumerate(taken))
    if len(taken) == 1:
        what = f"port {taken[0][1]} is taken (something else listens there): choose another"
    else:
        listed = " and ".join(f"{port} ({option})" for option, port in taken)
        what = f"ports {listed} are taken (something else listens there): choose others"
    raise AnjunganError(f"{what}: {_how_to_run(options)}")


# The back office's demo officers: one per role (a pelaksana for the public-works OPD).
OFFICERS = (("admin", "admin", None), ("ppid", "ppid", None), ("pu", "pelaksana", "dispu"),
            ("atasan", "atasan", None), ("teknisi", "teknisi", None))  # fmt: skip


def _officers(demo_dir: Path, echo: Callable[[str], object] = _quiet) -> list[dict[str, Any]]:
    """Create the demo's officer accounts on the first run (saying so first); answer them with their passwords
    (shown only now).

    Later runs answer [] (the passwords were printed once; the admin page issues new ones).
    """
    marker = demo_dir / "central" / "officers-created"
    if marker.exists():
        return []
    echo(
        f"  creating the back office's officers, one per role ({', '.join(name for name, *_ in OFFICERS)}) ..."
    )
    made = []
    for name, role, opd in OFFICERS:
        argv = anjungan_argv("central", "--db", _central_db(demo_dir), "add-user", name, "--role", role,
                             *(["--opd", opd] if opd else []))  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:  # made by a first run stopped before the marker: a new password instead
            again = anjungan_argv("central", "--db", _central_db(demo_dir), "reset-password", name)
            reset = subprocess.run(again, capture_output=True, text=True, timeout=120)
            if reset.returncode != 0:
                raise AnjunganError(f"cannot create the demo officer {name}: {result.stderr.strip()}")
            result = reset
        made.append(json.loads(result.stdout))
    marker.write_text("the passwords were printed on the first run\n")
    return made


DEMO_SUBMISSIONS: tuple[tuple[str, dict[str, Any], dict[str, Any] | None], ...] = (
    ("request", {"rincian": "Salinan APBDes 2025 dan laporan realisasinya", "tujuan": "Bahan musyawarah warga RT 03",
                 "cara_memperoleh": "salinan", "format_salinan": "softcopy", "cara_salinan": "email"},
     {"nama": "Siti Aminah", "nik": "3321014507800001", "alamat": "Dusun Krajan RT 03/RW 01",
      "pekerjaan": "Guru", "telepon": "081234567890", "email": "siti@example.org"}),
    ("complaint", {"klasifikasi": "pengaduan", "kategori": "jalan-rusak", "judul": "Jalan berlubang di depan SD",
                   "isi": "Lubang besar di tengah jalan desa, dua motor jatuh minggu ini.", "tanggal_kejadian": None,
                   "lokasi": "Jalan Desa Mrisen", "anonim": False, "rahasia": False},
     {"nama": "Budi Santoso", "nik": "", "telepon": "085712345678"}),
    ("complaint", {"klasifikasi": "pengaduan", "kategori": "pungli", "judul": "Pungutan saat mengurus surat",
                   "isi": "Diminta membayar Rp50.000 untuk surat pengantar di kantor desa.", "tanggal_kejadian": None,
                   "lokasi": "Kantor Desa", "anonim": True, "rahasia": True}, None),
)  # fmt: skip


def _places(demo_dir: Path, gateway_id: str, echo: Callable[[str], object] = _quiet) -> None:
    """Set the kiosk's and the nodes' places, producers (the demo's OPDs, added first) and the kiosk's Satu Data
    region code at the central on the first run, as the demo's admin officer (audited there); run after
    :func:`_officers`. Each command is idempotent: a demo folder of an older version gets the ones it lacks.
    Says what it does first (when it does anything)."""
    marker = demo_dir / "central" / "places-set-v2"
    if marker.exists():
        return
    echo("  setting the OPDs and the places of the kiosk and its nodes at the central ...")
    central = ("central", "--db", _central_db(demo_dir))
    label, lat, lon = KIOSK_PLACE
    for code, name in DEMO_OPDS.items():
        result = subprocess.run(anjungan_argv(*central, "add-opd", code, name), capture_output=True, text=True,
                                timeout=120)  # fmt: skip
        if result.returncode != 0:
            raise AnjunganError(f"cannot add the demo's OPD {code} at the central: {result.stderr.strip()}")
    commands: list[tuple[str, ...]] = [
        (*central, "fleet", "place", gateway_id, "--label", label, "--lat", str(lat), "--lon", str(lon)),
        (*central, "set-place", gateway_id, "--region-code", REGION_CODE),
    ]
    for node_id, (lat, lon) in NODE_COORDINATES.items():
        commands.append((*central, "fleet", "place", gateway_id, "--node", node_id, "--label", NODE_PLACES[node_id],
                         "--lat", str(lat), "--lon", str(lon)))  # fmt: skip
        commands.append((*central, "fleet", "node", gateway_id, node_id, "--producer", NODE_PRODUCERS[node_id],
                         "--interval", str(NODE_INTERVAL_S)))  # fmt: skip
    for command in commands:
        result = subprocess.run(
            anjungan_argv(*command, "--by", PLACES_BY), capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise AnjunganError(f"cannot set the demo's places at the central: {result.stderr.strip()}")
    marker.write_text("places set\n")


def _publish_sample(demo_dir: Path, echo: Callable[[str], object] = _quiet) -> None:
    """Publish the sample content at the demo's central for every kiosk (audited there as ``cli``). Every start
    runs it (saying so first): it publishes only what the central never had, so nothing is added twice and an
    item an officer edited or withdrew stays so."""
    echo("  publishing the sample content at the central (only what it never had) ...")
    result = subprocess.run(anjungan_argv("central", "--db", _central_db(demo_dir), "publish-sample"),
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    if result.returncode != 0:
        raise AnjunganError(
            f"cannot publish the demo's sample content at the central: {result.stderr.strip()}"
        )


def _seed_submissions(store: Store) -> None:
    """A few realistic citizens' submissions (they travel to the central like any other)."""
    from datetime import date

    from gateway import dates

    today = date.today()
    for kind, public, personal in DEMO_SUBMISSIONS:
        store.add_submission(kind, public, personal, gateway_id=GATEWAY_ID, due_date=dates.due_for(kind, today),
                             day=today)  # fmt: skip


# A week of citizens' satisfaction ratings (docs/skm.md): u1..u9, None = a question left out
DEMO_RATINGS: tuple[tuple[int | None, ...], ...] = (
    (4, 4, 3, 4, 3, 4, 4, 3, 3),
    (3, 3, 3, 4, 3, 3, 4, 3, None),
    (4, 3, 2, 4, 3, 3, 3, 2, 3),
    (3, 4, 3, None, 4, 4, 4, 3, 4),
    (2, 3, 3, 4, 3, 3, 4, None, 2),
)


def _seed_ratings(store: Store) -> None:
    """Ratings of the last days (their days are over, so the first sync round sends them and the back
    office's report shows a satisfaction index at once): five requests rated yesterday and five status checks
    the day before, since a (service, day) goes only with at least five ratings (docs/skm.md, k-anonymity)."""
    from datetime import date, timedelta

    from gateway.vocabulary import SKM_ELEMENTS, SKM_SERVICES

    today = date.today()
    for i, values in enumerate(DEMO_RATINGS * 2):
        day = today - timedelta(days=1 + i // len(DEMO_RATINGS))
        service = SKM_SERVICES[0] if i < len(DEMO_RATINGS) else SKM_SERVICES[-1]
        ratings = {e: v for e, v in zip(SKM_ELEMENTS, values, strict=True) if v is not None}
        store.add_rating(service, ratings, day=day, uuid=f"demo-rating-{i}")


def _link(demo_dir: Path, node_id: str) -> Path:
    return demo_dir / "run" / f"ttySIM-{node_id}"


def prepare(
    demo_dir: Path, *, kiosk_port: int, central_port: int, echo: Callable[[str], object] = _quiet
) -> Path:
    """Write the demo's configuration, register it at the central, publish the sample content there and file
    the demo's submissions in the store, telling ``echo`` (one line each) before each slow step; return the
    config path. (The officers, then the places, come after.)"""
    private.ensure_dir(demo_dir / "logs")
    credentials = _credentials(demo_dir, echo)
    operator_hash, _password = _operator(demo_dir)
    _publish_sample(demo_dir, echo)
    path = demo_dir / "anjungan.toml"
    overrides: dict[str, dict[str, Any]] = {
        # the demo's time runs fast (a frame every 5 s, a sync every 10 s): so does the writer's gathering, or the
        # nodes' data would reach the central in bursts that its silence rules read as dead nodes
        "gateway": {
            "id": GATEWAY_ID,
            "name": "Kecamatan Wonosalam (demo)",
            "data_dir": "data",
            "commit_interval_s": 1.0,
        },
        "central": {
            "url": f"http://127.0.0.1:{central_port}",
            "gateway_id": credentials["gateway_id"],
            "secret": credentials["secret"],
        },
        "kiosk": {
            "port": kiosk_port,
            "node_labels": dict(NODE_PLACES),
            "operator_password_hash": operator_hash,
        },
        "mqtt": {"host": ""},
        "sync": {"interval_s": 10, "backoff_cap_s": 30.0},
    }
    text = config_mod.commented_toml(overrides)
    for node_id, _kind in NODES:
        text += f'\n[[serial]]\nport = "{_link(demo_dir, node_id)}"\nbaud = 115200\n'
    private.write_text(path, text)
    cfg = config_mod.load(path)
    with Store.from_config(cfg) as store:
        if store.get_meta("demo_submissions") is None:
            echo("  filing a few citizens' submissions and ratings in the kiosk's store ...")
            _seed_submissions(store)
            _seed_ratings(store)
            store.set_meta("demo_submissions", "1")
    return path


def children(demo_dir: Path, config_path: Path, *, kiosk_port: int, central_port: int) -> list[Child]:
    logs = demo_dir / "logs"
    base = ["--config", str(config_path)]
    central = ["central", "--db", _central_db(demo_dir)]
    out = [
        Child(
            "central",
            anjungan_argv(*central, "serve", "--port", str(central_port)),
            env={"ANJUNGAN_CENTRAL_SERVER_ALERTS_EVERY_S": ALERTS_EVERY_S},
            log=logs / "central.log",
        )
    ]
    for node_id, kind in NODES:
        argv = anjungan_argv(
            "node", "simulate", "--node-id", node_id, "--kind", kind, "--interval", str(NODE_INTERVAL_S),
            "--dir", str(demo_dir / "nodes" / node_id / "fs"), "--link", str(_link(demo_dir, node_id)),
            "--scenario", "demo",
        )  # fmt: skip
        out.append(Child(f"node {node_id}", argv, log=logs / f"{node_id}.log"))
    out += [
        Child("ingest", anjungan_argv(*base, "ingest"), log=logs / "ingest.log"),
        Child("kiosk", anjungan_argv(*base, "kiosk"), log=logs / "kiosk.log"),
        Child("sync", anjungan_argv(*base, "sync", "run"), log=logs / "sync.log"),
    ]
    return out


def run_demo(demo_dir: Path, *, kiosk_port: int, central_port: int, echo: Callable[[str], object]) -> None:
    """Prepare and run the whole demo until stopped, holding the demo folder all the while (:func:`lock_folder`).

    Raises AnjunganError (before anything starts) when another demo runs in the folder (DemoFolderBusyError),
    when a port is taken (every taken one named), or when the demo's central cannot be set up. Nothing is written
    in a folder another demo holds; nothing at all when a port is taken and the folder did not exist.
    """
    demo_dir = demo_dir.resolve()
    # another demo in an existing folder is the first thing to say; a new folder is made only once the ports are free
    lock = lock_folder(demo_dir) if demo_dir.is_dir() else None
    try:
        check_ports(kiosk_port=kiosk_port, central_port=central_port)
        if lock is None:
            lock = lock_folder(demo_dir)
        _run_locked(demo_dir, kiosk_port=kiosk_port, central_port=central_port, echo=echo)
    finally:
        if lock is not None:
            os.close(lock)


def _run_locked(demo_dir: Path, *, kiosk_port: int, central_port: int, echo: Callable[[str], object]) -> None:
    first = not (demo_dir / "central" / "officers-created").exists()
    echo(
        f"demo folder: {demo_dir}"
        + ("  (first start: setting it up takes about half a minute)" if first else "")
    )
    _hash, operator_password = _operator(demo_dir)
    config_path = prepare(demo_dir, kiosk_port=kiosk_port, central_port=central_port, echo=echo)
    officers = _officers(demo_dir, echo)
    _places(demo_dir, _credentials(demo_dir)["gateway_id"], echo)
    parts = children(demo_dir, config_path, kiosk_port=kiosk_port, central_port=central_port)
    echo(f"kiosk:    http://127.0.0.1:{kiosk_port}/")
    if operator_password:
        echo(f"  kiosk operator pages: http://127.0.0.1:{kiosk_port}/operator/  password {operator_password}"
             "  (shown only now)")  # fmt: skip
    echo(f"central:  http://127.0.0.1:{central_port}/     back office (officers log in here)")
    echo(f"  central database: anjungan central --db {_central_db(demo_dir)} ...")
    for officer in officers:
        opd = f", OPD {officer['opd']}" if officer["opd"] else ""
        echo(f"  officer {officer['user']:<8} role {officer['role']}{opd}  password {officer['password']}")
    if officers:
        echo("  (these passwords are shown only now; an admin can issue new ones on the Pengguna page)")
    else:
        echo(_passwords_shown_before(demo_dir, operator_too=not operator_password))
    echo(f"nodes:    {', '.join(f'{n} ({k})' for n, k in NODES)} on {demo_dir / 'run'}")
    echo(f"config:   {config_path}")
    echo(f"logs:     {demo_dir / 'logs'}")
    echo(
        "starting the central, the nodes, the ingest, the kiosk and the sync (the kiosk answers within seconds)"
    )
    echo("Ctrl-C stops the demo.")
    Supervisor(parts, echo=echo).run()


def _passwords_shown_before(demo_dir: Path, *, operator_too: bool = True) -> str:
    """The later starts' line: where the officers' passwords (and the operator's, with ``operator_too``) were
    shown and how to issue new ones."""
    whose = "the officers' and the kiosk operator's were" if operator_too else "the officers' were"
    return (
        f"  passwords: {whose} shown at the first start; a new one for an "
        f"officer: .venv/bin/anjungan central --db {_central_db(demo_dir)} reset-password NAME (or an admin on "
        f"the Pengguna page); for the operator: delete {demo_dir / 'central' / 'kiosk-operator.json'} and start "
        "the demo again"
    )
