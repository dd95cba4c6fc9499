"""``anjungan demo``: the whole system on one machine, on embedded defaults.

It keeps everything in the demo folder: a local central (SQLite) with this gateway registered, three simulated
nodes (water level, weather, power) on pseudo-terminals, and the gateway's ingest, kiosk and sync, each a
supervised child process with its log in ``<demo dir>/logs/``. Ctrl-C stops everything (and a killed demo
takes its children along: see gateway/supervise.py); running it again carries on with the same data.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway import config as config_mod
from gateway.errors import AnjunganError
from gateway.sample_content import seed
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


def _central_db(demo_dir: Path) -> str:
    return f"sqlite:///{demo_dir / 'central' / 'central.db'}"


def _credentials(demo_dir: Path) -> dict[str, str]:
    """This gateway's id and secret at the demo's central, registered on the first run."""
    path = demo_dir / "central" / "credentials.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    path.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        anjungan_argv("central", "--db", _central_db(demo_dir), "add-gateway", GATEWAY_ID),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise AnjunganError(f"cannot register the demo gateway at the central: {result.stderr.strip()}")
    credentials = json.loads(result.stdout)
    path.write_text(json.dumps(credentials))
    return dict(credentials)


def _link(demo_dir: Path, node_id: str) -> Path:
    return demo_dir / "run" / f"ttySIM-{node_id}"


def prepare(demo_dir: Path, *, kiosk_port: int, central_port: int) -> Path:
    """Write the demo's configuration, register it at the central and seed the store; return the config path."""
    demo_dir.mkdir(parents=True, exist_ok=True)
    (demo_dir / "logs").mkdir(exist_ok=True)
    credentials = _credentials(demo_dir)
    path = demo_dir / "anjungan.toml"
    overrides: dict[str, dict[str, Any]] = {
        "gateway": {"id": GATEWAY_ID, "name": "Kecamatan Wonosalam (demo)", "data_dir": "data"},
        "central": {
            "url": f"http://127.0.0.1:{central_port}",
            "gateway_id": credentials["gateway_id"],
            "secret": credentials["secret"],
        },
        "kiosk": {"port": kiosk_port, "node_labels": dict(NODE_PLACES)},
        "mqtt": {"host": ""},
        "sync": {"interval_s": 10, "backoff_cap_s": 30.0},
    }
    text = config_mod.commented_toml(overrides)
    for node_id, _kind in NODES:
        text += f'\n[[serial]]\nport = "{_link(demo_dir, node_id)}"\nbaud = 115200\n'
    path.write_text(text)
    cfg = config_mod.load(path)
    with Store.from_config(cfg) as store:
        if store.get_meta("demo_seeded") is None:
            seed(store, cfg)
            store.set_meta("demo_seeded", "1")
    return path


def children(demo_dir: Path, config_path: Path, *, kiosk_port: int, central_port: int) -> list[Child]:
    logs = demo_dir / "logs"
    base = ["--config", str(config_path)]
    central = ["central", "--db", _central_db(demo_dir)]
    out = [
        Child(
            "central", anjungan_argv(*central, "serve", "--port", str(central_port)), log=logs / "central.log"
        )
    ]
    for node_id, kind in NODES:
        argv = anjungan_argv(
            "node", "simulate", "--node-id", node_id, "--kind", kind, "--interval", str(NODE_INTERVAL_S),
            "--dir", str(demo_dir / "nodes" / node_id / "fs"), "--link", str(_link(demo_dir, node_id)),
        )  # fmt: skip
        out.append(Child(f"node {node_id}", argv, log=logs / f"{node_id}.log"))
    out += [
        Child("ingest", anjungan_argv(*base, "ingest"), log=logs / "ingest.log"),
        Child("kiosk", anjungan_argv(*base, "kiosk"), log=logs / "kiosk.log"),
        Child("sync", anjungan_argv(*base, "sync", "run"), log=logs / "sync.log"),
    ]
    return out


def run_demo(demo_dir: Path, *, kiosk_port: int, central_port: int, echo: Callable[[str], object]) -> None:
    demo_dir = demo_dir.resolve()
    config_path = prepare(demo_dir, kiosk_port=kiosk_port, central_port=central_port)
    parts = children(demo_dir, config_path, kiosk_port=kiosk_port, central_port=central_port)
    echo(f"kiosk:    http://127.0.0.1:{kiosk_port}/")
    echo(f"central:  http://127.0.0.1:{central_port}/")
    echo(f"nodes:    {', '.join(f'{n} ({k})' for n, k in NODES)} on {demo_dir / 'run'}")
    echo(f"config:   {config_path}")
    echo(f"logs:     {demo_dir / 'logs'}")
    echo("Ctrl-C stops the demo.")
    Supervisor(parts, echo=echo).run()
