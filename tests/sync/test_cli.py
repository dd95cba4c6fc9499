"""``anjungan sync now|status|run`` as a technician runs them (the real entry point, in subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.sync.conftest import fill, store_seqs, write_config

ANJUNGAN = str(Path(sys.executable).parent / "anjungan")


def anjungan(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ANJUNGAN, "--config", str(config), *args], capture_output=True, text=True, timeout=timeout,
        env={k: v for k, v in os.environ.items() if not k.startswith("ANJUNGAN_")},
    )  # fmt: skip


def test_now_then_status(store, central, gateway_config):
    fill(store, frames=20, events=2, submissions=1)
    done = anjungan(gateway_config, "sync", "now")
    assert done.returncode == 0, done.stderr
    assert "uploaded" in done.stdout
    assert central.seqs("readings") == store_seqs(store, "readings")
    text = anjungan(gateway_config, "sync", "status")
    assert text.returncode == 0 and "readings" in text.stdout and "clock:" in text.stdout
    report = json.loads(anjungan(gateway_config, "sync", "status", "--format", "json").stdout)
    assert report["streams"]["readings"]["pending"] == 0
    assert report["streams"]["submissions"]["last_success"] is not None
    assert report["clock"]["offset_ms"] is not None


def test_status_shows_backlog_and_age(store, tmp_path):
    config = write_config(tmp_path, "", "", "")
    fill(store, events=3)
    report = json.loads(anjungan(config, "sync", "status", "--format", "json").stdout)
    assert report["streams"]["events"]["pending"] == 3
    assert report["streams"]["events"]["oldest_age_s"] >= 0
    assert report["central"]["url"] is None
    text = anjungan(config, "sync", "status").stdout.splitlines()
    assert text[0] == "NO CENTRAL CONFIGURED ([central] url is empty): nothing is sent until it is set"


def test_status_with_a_central_does_not_say_none_is_configured(store, central, tmp_path):
    config = write_config(tmp_path, central.url, central.gateway_id, central.secret)
    out = anjungan(config, "sync", "status").stdout
    assert "NO CENTRAL" not in out and out.startswith("stream ")


def test_now_fails_with_one_plain_line(store, central, tmp_path):
    config = write_config(tmp_path, central.url, central.gateway_id, "wrong-secret")
    fill(store, events=1)
    done = anjungan(config, "sync", "now")
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip() and "uploading" not in line]
    assert lines == [
        "anjungan: sync failed: the central refused our credentials: check [central] gateway_id and secret "
        "(the central may have removed this gateway or issued it a new secret)"
    ]


def test_now_without_central_says_so(store, tmp_path):
    done = anjungan(write_config(tmp_path, "", "", ""), "sync", "now")
    assert done.returncode == 1 and "set [central] url" in done.stderr


def test_run_syncs_new_backlog_and_stops_on_sigterm(store, central, tmp_path):
    config = write_config(tmp_path, central.url, central.gateway_id, central.secret, interval_s=900)
    proc = subprocess.Popen([ANJUNGAN, "--config", str(config), "sync", "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        fill(store, events=2)  # arrives while the loop idles: it wakes early, long before the interval
        deadline = time.monotonic() + 30
        while central.seqs("events") != store_seqs(store, "events") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert central.seqs("events") == store_seqs(store, "events")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_status_shows_what_is_current_after_a_start_up_error(store, central, tmp_path, make_client):
    """A sync that started before the central answered: once a round succeeds, `sync status` shows no stale
    error, and the changes feed's last success is set although it had nothing new."""
    from tests.fixtures.mosquitto import free_port

    fill(store, frames=10, events=2, submissions=1)
    down = make_client(url=f"http://127.0.0.1:{free_port()}")  # nothing listens there yet
    try:
        down.round()
    except Exception as err:  # the transient error of a central that is not up yet
        assert "cannot reach the central" in str(err)
    assert any(row["last_error"] for row in store.backlog().values())
    make_client().run_once()
    assert not any(row["last_error"] for row in store.backlog().values())
    assert store.get_meta("downlink_last_success") is not None
    result = subprocess.run([ANJUNGAN, "--config", str(write_config(tmp_path, central.url, central.gateway_id,
                             central.secret)), "sync", "status"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.lstrip().startswith("last error")], result.stdout
    assert "last success never" not in result.stdout, result.stdout
