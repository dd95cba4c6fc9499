"""Run by bench/store.py inside a venv with thingsboard-gateway==3.8.5: measure its SQLite event storage.

Reads the benchmark's frames as JSON on stdin ({"frames": [[node, boot, q, {name: value}], ...],
"producers": N, "per_reading": bool}); prints one JSON object with its figures.
"""

import json
import logging
import os
import sqlite3
import sys
import tempfile
import threading
import time

from thingsboard_gateway.tb_utility.tb_logger import TbLogger

logging.setLoggerClass(TbLogger)

from thingsboard_gateway.storage.sqlite.sqlite_event_storage import SQLiteEventStorage  # noqa: E402


def io_counters():
    with open("/proc/self/io") as fh:
        fields = dict(line.split(": ") for line in fh.read().splitlines())
    return int(fields["write_bytes"]), int(fields["wchar"])


def main():
    job = json.load(sys.stdin)
    frames, producers = job["frames"], job["producers"]
    readings = sum(len(values) for *_, values in frames)
    if job.get("per_reading"):  # one telemetry message per reading (one key each)
        messages = [
            json.dumps(
                {"deviceName": node, "telemetry": [{"ts": 1767225600000 + q, "values": {name: value}}]}
            )
            for node, _boot, q, values in frames
            for name, value in values.items()
        ]
    else:  # one telemetry message per frame (all its readings as keys)
        messages = [
            json.dumps({"deviceName": node, "telemetry": [{"ts": 1767225600000 + q, "values": values}]})
            for node, _boot, q, values in frames
        ]
    log = logging.getLogger("storage")
    log.setLevel(logging.WARNING)
    directory = tempfile.mkdtemp(prefix="tb-bench-") + "/"
    storage = SQLiteEventStorage({"type": "sqlite", "data_file_path": directory}, log, threading.Event())
    db = os.path.join(directory, "data.db")
    watch = sqlite3.connect(db)
    os.sync()
    io_before = io_counters()
    start = time.perf_counter()

    def produce(k):
        for message in messages[k::producers]:
            storage.put(message)

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    put_s = time.perf_counter() - start
    while watch.execute("SELECT count(*) FROM messages").fetchone()[0] < len(messages):
        time.sleep(0.002)
    stored_s = time.perf_counter() - start
    os.sync()
    io_after = io_counters()
    watch.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    disk = sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))

    start = time.perf_counter()
    delivered = 0
    while True:
        pack = storage.get_event_pack()
        if not pack:
            break
        delivered += len(pack)
        storage.event_pack_processing_done()
    read_s = time.perf_counter() - start
    storage.stop()
    per = readings / len(messages)
    print(
        json.dumps(
            {
                "readings": readings,
                "put_per_s": readings / put_s,
                "stored_per_s": readings / stored_s,
                "read_ack_per_s": delivered * per / read_s,
                "delivered": delivered,
                "disk_bytes_per_reading": disk / readings,
                "write_bytes_per_reading": (io_after[0] - io_before[0]) / readings,
                "wchar_per_reading": (io_after[1] - io_before[1]) / readings,
            }
        )
    )
    sys.stdout.flush()
    os._exit(0)  # its threads are daemons that do not stop on their own


if __name__ == "__main__":
    main()
