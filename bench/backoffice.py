"""Back-office inbox and search latency with 100,000 submissions from 50 kiosks on PostgreSQL.

Starts its own PostgreSQL server unless --db is given, stores the submissions through the central's own batch
path, lets the back office make their cases (timed: ``intake_s``), then requests inbox pages (filters, sorts,
pages) and full-text searches as a logged-in PPID officer through the Flask app, and reports p50/p99 in ms.
Prints a table, then as the last line one JSON object with ``inbox_p99_ms``, ``search_p99_ms`` and
``submissions``. Target: p99 <= 150 ms for both.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from gateway import regno  # noqa: E402
from gateway.vocabulary import SubmissionKind  # noqa: E402
from sync import protocol  # noqa: E402
from sync.central import service  # noqa: E402
from sync.central.app import create_app  # noqa: E402
from sync.central.backoffice import accounts, intake  # noqa: E402
from tests.central.officers import PASSWORD, login  # noqa: E402
from tests.fixtures.postgres import running_postgres  # noqa: E402

TARGET_MS = 150
WORDS = ["jalan", "rusak", "lubang", "banjir", "sampah", "lampu", "jembatan", "sekolah", "puskesmas", "bansos", "beras", "air", "listrik", "posyandu", "pungli", "dana", "desa", "anggaran", "laporan", "keuangan", "sertifikat", "tanah", "ktp", "akta", "kelahiran", "irigasi", "sawah", "pupuk", "pasar", "terminal", "angkot", "drainase", "got", "longsor", "pohon", "tumbang", "kabel", "internet", "sinyal"]  # fmt: skip
CATEGORIES = (
    "jalan-rusak",
    "sampah",
    "banjir",
    "pelayanan-publik",
    "bansos",
    "adminduk",
    "kesehatan",
    "lainnya",
)


SYLLABLES = [c + v for c in "bdgjklmnprstw" for v in "aiou"]
# the rarer words of real texts (names of places and people, things): 3,000 of them, each in few submissions
RARE = sorted({"".join(random.Random(i).choices(SYLLABLES, k=3)) for i in range(3200)})[:3000]


def sentence(rng: random.Random, n: int) -> str:
    """``n`` words: mostly common ones, one in four rare."""
    return " ".join(
        rng.choice(RARE) if rng.random() < 0.25 else rng.choice(WORDS) for _ in range(n)
    ).capitalize()


# how often each kind is filed: 6 complaints to 3 requests to 1 objection
KIND_WEIGHTS = {SubmissionKind.COMPLAINT: 6, SubmissionKind.REQUEST: 3, SubmissionKind.OBJECTION: 1}


def record(rng: random.Random, gateway: str, seq: int, now_ms: int) -> dict:
    kind = rng.choices(list(KIND_WEIGHTS), list(KIND_WEIGHTS.values()))[0]
    at = now_ms - rng.randrange(0, 120 * 86_400_000)
    if kind == "complaint":
        public = {"klasifikasi": "pengaduan", "kategori": rng.choice(CATEGORIES), "judul": sentence(rng, 5),
                  "isi": sentence(rng, 25), "lokasi": f"Dusun {rng.choice(WORDS).title()}",
                  "anonim": rng.random() < 0.1, "rahasia": rng.random() < 0.05}  # fmt: skip
    elif kind == "request":
        public = {"rincian": sentence(rng, 12), "tujuan": sentence(rng, 6), "cara_memperoleh": "melihat"}
    else:
        public = {
            "nomor_permohonan": f"{gateway.upper()}-260101-00011",
            "alasan": ["c"],
            "uraian": sentence(rng, 15),
        }
    personal = (
        None if public.get("anonim") else {"nama": "Warga", "nik": "3321010101010001", "telepon": "0812"}
    )
    return {"seq": seq, "uuid": f"00000000-0000-4000-8000-{rng.getrandbits(48):012x}",
            "number": regno.make(gateway, date.fromtimestamp(at / 1000), seq), "kind": kind, "at": at, "offset": 0, "due_date": None,
            "public": public, "personal": personal}  # fmt: skip


def fill(state: Any, submissions: int, kiosks: int, rng: random.Random) -> None:
    now_ms = int(time.time() * 1000)
    per = submissions // kiosks
    for k in range(kiosks):
        gateway = service.add_gateway(state.engine, state.master_key, f"kiosk-{k:02d}")["gateway_id"]
        for start in range(1, per + 1, 1000):
            records = [record(rng, gateway, seq, now_ms) for seq in range(start, min(start + 1000, per + 1))]
            body, headers = protocol.encode_batch("submissions", records)
            service.store_batch(state.engine, gateway, protocol.decode_batch(body, headers))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(client: object, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path)  # type: ignore[attr-defined]
        out.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a PostgreSQL URL (default: start one)")
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--kiosks", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(13)
    with contextlib.ExitStack() as stack:
        db_url = args.db or stack.enter_context(running_postgres())
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        app = create_app(db_url, files_dir=work / "files", key_file=work / "central.key")
        state = app.extensions["anjungan.central"]
        stack.callback(state.engine.dispose)
        started = time.perf_counter()
        fill(state, args.submissions, args.kiosks, rng)
        stored_s = time.perf_counter() - started
        started = time.perf_counter()
        intake.sync_cases(state.engine)
        with state.engine.connect() as conn:
            made = conn.execute(sa.text("SELECT count(*) FROM bo_cases")).scalar_one()
        intake_s = time.perf_counter() - started
        accounts.add_user(state.engine, "bench-ppid", "ppid", opd=None, password=PASSWORD, now_ms=0)
        app.config["BACKOFFICE_IDLE_SECONDS"] = 24 * 3600
        client = app.test_client()
        assert login(client, "bench-ppid").status_code == 302
        inbox_paths = [rng.choice(["/kotak-masuk", "/kotak-masuk?kind=complaint", "/kotak-masuk?due=terlambat",
                                   "/kotak-masuk?sort=tenggat", "/kotak-masuk?status=baru&category=banjir",
                                   f"/kotak-masuk?gateway=kiosk-{rng.randrange(args.kiosks):02d}",
                                   f"/kotak-masuk?page={rng.randrange(1, 200)}", "/kotak-masuk?due=segera"])
                       for _ in range(args.requests)]  # fmt: skip
        search_paths = [
            f"/kotak-masuk?q={rng.choice(WORDS)}+{rng.choice(WORDS)}" for _ in range(args.requests)
        ]
        timed(client, inbox_paths[:20] + search_paths[:20])  # warm-up
        inbox, search = timed(client, inbox_paths), timed(client, search_paths)
    figures = {
        "submissions": made,
        "kiosks": args.kiosks,
        "stored_s": round(stored_s, 1),
        "intake_s": round(intake_s, 1),
        "inbox_p50_ms": round(statistics.median(inbox), 1),
        "inbox_p99_ms": round(percentile(inbox, 99), 1),
        "search_p50_ms": round(statistics.median(search), 1),
        "search_p99_ms": round(percentile(search, 99), 1),
        "target_p99_ms": TARGET_MS,
    }
    kinds: dict[str, list[float]] = {}
    for path, ms in zip(inbox_paths, inbox, strict=True):
        kinds.setdefault(path.split("?")[-1].split("=")[0] if "?" in path else "(none)", []).append(ms)
    print(f"{'inbox filter':<16}{'n':>5}{'p50 ms':>9}{'max ms':>9}")
    for name, values in sorted(kinds.items()):
        print(f"{name:<16}{len(values):>5}{statistics.median(values):>9.1f}{max(values):>9.1f}")
    print(f"{'measure':<16}{'value':>10}")
    for name, value in figures.items():
        print(f"{name:<16}{value:>10}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
