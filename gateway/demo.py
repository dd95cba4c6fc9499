"""``anjungan demo``: the whole system on one machine, on embedded defaults.

It writes a configuration into the demo folder, seeds sample content, and supervises the parts as child
processes; every log goes to ``<demo dir>/logs/``. Ctrl-C stops everything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway import config as config_mod
from gateway.sample_content import seed
from gateway.store import Store
from gateway.supervise import Child, Supervisor, anjungan_argv


def prepare(demo_dir: Path, *, kiosk_port: int, central_port: int) -> Path:
    """Write the demo's configuration and store; return the configuration file's path."""
    demo_dir.mkdir(parents=True, exist_ok=True)
    (demo_dir / "logs").mkdir(exist_ok=True)
    path = demo_dir / "anjungan.toml"
    overrides: dict[str, dict[str, Any]] = {
        "gateway": {"id": "demo-wonosalam", "name": "Kecamatan Wonosalam (demo)", "data_dir": "data"},
        "kiosk": {"port": kiosk_port},
        "mqtt": {"host": ""},
    }
    path.write_text(config_mod.commented_toml(overrides))
    cfg = config_mod.load(path)
    with Store.from_config(cfg) as store:
        seed(store, cfg)
    return path


def run_demo(demo_dir: Path, *, kiosk_port: int, central_port: int, echo: Callable[[str], object]) -> None:
    demo_dir = demo_dir.resolve()
    path = prepare(demo_dir, kiosk_port=kiosk_port, central_port=central_port)
    logs = demo_dir / "logs"
    base = ["--config", str(path)]
    children = [Child("kiosk", anjungan_argv(*base, "kiosk"), log=logs / "kiosk.log")]
    echo(f"kiosk:   http://127.0.0.1:{kiosk_port}/")
    echo(f"logs:    {logs}")
    echo("Ctrl-C stops the demo.")
    Supervisor(children, echo=echo).run()
