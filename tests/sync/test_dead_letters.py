"""A record the central cannot store never blocks a stream, and one stream's trouble never stops the others.

Against the real central (SQLite and PostgreSQL): a record holding text no database can store (a lone
surrogate, as an older gateway let in) is refused by the central with a 422 and set aside; a record that makes
the central fail (500, through the fault proxy, whatever the cause) is narrowed down by halving after
``NARROW_AFTER`` failures of its batch and set aside, while everything else arrives exactly once.
"""

from __future__ import annotations

import gzip
import json
from datetime import date

import pytest

from gateway.frame import Frame
from gateway.store import Store
from sync.client import TransientError
from sync.client.uplink import NARROW_AFTER, RECORD_TRIES, STREAMS
from tests.fixtures.faultproxy import PASS, Fault, Request, fault_proxy
from tests.sync.conftest import fill, store_seqs, write_config
from tests.sync.test_cli import anjungan

MARKER = "poison-marker"


@pytest.fixture
def proxy(central):
    with fault_proxy((central.host, central.port)) as running:
        yield running


def batch_doc(request: Request) -> dict:
    body = request.body
    if request.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


def fails_with_marker(request: Request) -> Fault:
    """The central's answer to a batch holding the marker anywhere: 500, as a central with a bug gives it."""
    if "/batches" in request.target and MARKER.encode() in gzip.decompress(request.body):
        return Fault("status", status=500)
    return PASS


def dead(store: Store, stream: str) -> list[tuple[int, str]]:
    return store.conn.execute(
        "SELECT seq, reason FROM dead_letters WHERE stream = ? ORDER BY seq", (stream,)
    ).fetchall()


def test_text_no_database_can_store_is_set_aside_and_the_rest_flows(store: Store, central, make_client):
    fill(store, frames=20, events=3)
    # as stored by a gateway before frames were checked for it: the error frame's msg holds a lone surrogate
    store.writer().write([Frame("e", "node-1", 1, 900, {}, {"msg": "sonar: \ud800 no echo"})])
    fill(store, frames=20, events=3, start=100)
    make_client().run_once(attempts=1)
    (bad,) = [e["seq"] for e in store.events(kind="error")]
    assert dead(store, "events") == [
        (bad, "'data'.'msg' holds text that cannot be encoded as UTF-8 (a lone surrogate)")
    ]
    assert central.seqs("events") == [s for s in store_seqs(store, "events") if s != bad]
    assert central.seqs("readings") == store_seqs(store, "readings")
    assert store.acked("events") == store_seqs(store, "events")[-1]
    # the dead letter holds the record as it was, its text escaped, so it can be looked at and sent again
    (record,) = store.conn.execute("SELECT record FROM dead_letters").fetchone()
    assert json.loads(record)["data"]["msg"] == "sonar: \ud800 no echo"


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf")])
def test_a_number_json_cannot_carry_is_set_aside_and_the_rest_flows(
    store: Store, central, make_client, number: float
):
    # as stored by a gateway before every field of a frame was checked: a hello whose up_s is NaN
    fill(store, frames=20, events=3)
    store.writer().write([Frame("h", "node-1", 2, 0, {}, {"fw": "0.1.0", "stats": {"up_s": [1, number]}})])
    fill(store, frames=20, events=3, start=100)
    client = make_client()
    client.run_once(attempts=1)
    (bad,) = [e["seq"] for e in store.events(limit=1000) if e["data"].get("stats")]
    ((seq, reason),) = dead(store, "events")
    assert seq == bad
    assert (
        reason == "not sendable: 'data'.'stats'.'up_s'[1] holds a non-finite number (NaN or Infinity), "
        "which JSON cannot carry"
    )
    assert central.seqs("events") == [s for s in store_seqs(store, "events") if s != bad]
    assert central.seqs("readings") == store_seqs(store, "readings")
    assert store.acked("events") == store_seqs(store, "events")[-1]
    client.run_once(attempts=1)  # and the next round is an ordinary one


def test_a_batch_that_keeps_failing_is_narrowed_to_the_records_that_fail(
    store: Store, central, proxy, make_client
):
    fill(store, frames=200, events=30, submissions=3)
    store.add_event("note", {"text": MARKER})
    fill(store, events=30, submissions=2, start=100)
    store.writer().write([Frame("r", MARKER, 1, 0, {"water_cm": 1.0})])  # a poisoned reading among 1,000+
    fill(store, frames=200, start=500)
    proxy.policy = fails_with_marker
    client = make_client(url=proxy.url)
    for _ in range(NARROW_AFTER - 1):  # ordinary failures first: retried, nothing set aside
        with pytest.raises(TransientError):
            client.run_once(attempts=1)
        assert store.backlog()["events"]["dead_letters"] == 0
    rounds = NARROW_AFTER - 1
    while True:  # each failing round ends with a smaller readings batch, or narrows a batch down
        rounds += 1
        try:
            client.run_once(attempts=1)
            break
        except TransientError:
            assert rounds < 3 * NARROW_AFTER, "the poisoned batches were not narrowed down"

    # the note, and the event that announced the new node whose id is the marker
    bad_events = [e["seq"] for e in store.events(limit=1000) if MARKER in json.dumps(e)]
    bad_readings = [row[0] for row in store.conn.execute(
        "SELECT r.seq FROM readings r JOIN frames f ON f.id = r.frame_id JOIN nodes n ON n.id = f.node_id "
        "WHERE n.node = ? ORDER BY r.seq", (MARKER,))]  # fmt: skip
    for stream, bad in (("events", bad_events), ("readings", bad_readings)):
        assert len(bad) >= 1
        assert [seq for seq, _reason in dead(store, stream)] == bad
        for _seq, reason in dead(store, stream):
            assert reason.startswith(f"the central failed on this record alone {RECORD_TRIES} times"), reason
            assert "500" in reason
        assert central.seqs(stream) == [s for s in store_seqs(store, stream) if s not in bad]
        assert store.acked(stream) == max(s for s in store_seqs(store, stream) if s not in bad)
    assert central.seqs("submissions") == store_seqs(store, "submissions")
    assert sum(store.backlog()[stream]["pending"] for stream in STREAMS) == 0
    failed = [r for r in proxy.requests if MARKER.encode() in gzip.decompress(r.body)]
    # per poisoned record: its failures before narrowing, one per halving (log2 of a batch of 2,000 or less),
    # and its tries alone; measured: 7 rounds, 35 failed requests of 66
    poisoned = len(bad_events) + len(bad_readings)
    assert len(failed) <= poisoned * (NARROW_AFTER + 11 + RECORD_TRIES)


def test_one_streams_trouble_never_stops_the_others(store: Store, central, proxy, make_client):
    """The central fails every events batch, even an empty one: readings and submissions flow all the same,
    and nothing is set aside (the central itself is in trouble, not the records)."""
    fill(store, frames=300, submissions=2)
    fill(store, events=5)

    def events_fail(request: Request) -> Fault:
        if "/batches" in request.target and batch_doc(request)["stream"] == "events":
            return Fault("status", status=500)
        return PASS

    proxy.policy = events_fail
    client = make_client(url=proxy.url)
    for _ in range(NARROW_AFTER + 2):
        with pytest.raises(TransientError, match="500"):
            client.run_once(attempts=1)
    assert central.seqs("readings") == store_seqs(store, "readings")
    assert central.seqs("submissions") == store_seqs(store, "submissions")
    assert central.seqs("events") == [] and store.backlog()["events"]["dead_letters"] == 0
    proxy.policy = None
    client.run_once(attempts=1)
    assert central.seqs("events") == store_seqs(store, "events")


def test_dead_letters_hold_any_record(store: Store):
    record = {
        "seq": 7,
        "at": 1,
        "offset": None,
        "node": "n\x00",
        "kind": "e\udfff",
        "data": {"k\ud800": "\udc80"},
    }
    store.dead_letter("events", [record], "refused: \ud800")
    (stored, reason) = store.conn.execute("SELECT record, reason FROM dead_letters").fetchone()
    assert json.loads(stored) == record
    assert reason == "refused: \\ud800"
    assert [d["seq"] for d in store.dead_letters()] == [7]


# -- a submission the central refuses keeps its citizen ----------------------------------------------------

NIK = "3517000000000002"
PHONE = "081399998888"


def refuses_marker(request: Request) -> Fault:
    if "/batches" in request.target and MARKER.encode() in gzip.decompress(request.body):
        return Fault("status", status=422)
    return PASS


def personal_of(store: Store, seq: int) -> str | None:
    return store.conn.execute("SELECT personal FROM submissions WHERE seq = ?", (seq,)).fetchone()[0]


def add_refused_submission(store: Store) -> int:
    record = store.add_submission(
        "complaint", {"subject": f"jalan rusak {MARKER}"}, {"name": "Budi Santoso", "nik": NIK, "phone": PHONE},
        gateway_id="test-kiosk", due_date=date(2030, 1, 1),
    )  # fmt: skip
    return int(record["seq"])


def test_a_refused_submission_keeps_its_citizen_and_is_sent_again(
    store: Store, central, proxy, make_client, gateway_config
):
    fill(store, submissions=1)
    bad = add_refused_submission(store)
    fill(store, submissions=1, start=5)
    proxy.policy = refuses_marker
    make_client(url=proxy.url).run_once(attempts=1)

    others = [s for s in store_seqs(store, "submissions") if s != bad]
    assert central.seqs("submissions") == others
    assert NIK in (personal_of(store, bad) or "")  # the central does not have it: nothing purged
    assert all(personal_of(store, seq) is None for seq in others)  # the central has those
    (record, reason) = store.conn.execute("SELECT record, reason FROM dead_letters").fetchone()
    assert "422" in reason
    for secret in (NIK, PHONE, "Budi"):
        assert secret not in record
    listed = anjungan(gateway_config, "sync", "dead-letters", "list")
    assert listed.returncode == 0, listed.stderr
    number = store.conn.execute("SELECT number FROM submissions WHERE seq = ?", (bad,)).fetchone()[0]
    assert f"submissions {bad}" in listed.stdout and number in listed.stdout and "422" in listed.stdout
    for secret in (NIK, PHONE, "Budi"):
        assert secret not in listed.stdout

    proxy.policy = None  # the fix: the central takes it now
    sent = anjungan(gateway_config, "sync", "dead-letters", "retry", str(bad))
    assert sent.returncode == 0, sent.stderr
    assert "1 of 1 dead letter(s) sent again" in sent.stdout
    assert central.seqs("submissions") == store_seqs(store, "submissions")
    (arrived,) = [s for s in central.submissions() if s["seq"] == bad]
    assert arrived["personal"] == {"name": "Budi Santoso", "nik": NIK, "phone": PHONE}
    assert personal_of(store, bad) is None  # purged once the central has it
    assert store.dead_letters() == []


def test_a_submission_refused_again_stays_set_aside_with_the_new_reason(
    store: Store, central, make_client, gateway_config
):
    bad = add_refused_submission(store)
    # as an older kiosk could store it: text no database can hold (the central refuses it with a 422)
    store.conn.execute(
        "UPDATE submissions SET public = ? WHERE seq = ?", ('{"subject":"jalan \\ud800"}', bad)
    )
    make_client().run_once(attempts=1)
    ((_seq, reason),) = dead(store, "submissions")
    assert reason == "'public'.'subject' holds text that cannot be encoded as UTF-8 (a lone surrogate)"
    assert NIK in (personal_of(store, bad) or "")
    assert central.seqs("submissions") == []
    sent = anjungan(gateway_config, "sync", "dead-letters", "retry")
    assert sent.returncode == 0, sent.stderr
    assert "0 of 1" in sent.stdout and "refused again" in sent.stdout and "lone surrogate" in sent.stdout
    (row,) = store.dead_letters()
    assert (row["seq"], row["attempts"], row["retry_requested"]) == (bad, 2, False)
    assert NIK in (personal_of(store, bad) or "")
    missing = anjungan(gateway_config, "sync", "dead-letters", "retry", "999")
    assert missing.returncode == 1 and "no dead letter with seq 999" in missing.stderr


def test_a_dead_letter_that_fails_again_backs_off_and_says_why(
    store: Store, central, proxy, make_client, tmp_path
):
    """The central still answers 500 for a dead letter sent again: the round fails (and backs off) after the
    other streams flowed, the attempt is counted, the next attempt waits (no hot loop), and the command
    says what the central answered."""
    store.dead_letter("events", [{"seq": 1, "at": 1, "offset": None, "node": None, "kind": "note",
                                  "data": {"text": MARKER}}], "the central failed on this record alone")  # fmt: skip
    fill(store, frames=30, events=3)
    proxy.policy = fails_with_marker
    config = write_config(tmp_path, proxy.url, central.gateway_id, central.secret)
    sent = anjungan(config, "sync", "dead-letters", "retry")
    assert sent.returncode == 0, sent.stderr
    assert "0 of 1" in sent.stdout and "500" in sent.stdout and "did not answer" not in sent.stdout
    (row,) = store.dead_letters()
    assert (row["attempts"], row["retry_requested"]) == (2, True)
    assert not store.dead_letter_retry_wanted()  # the next attempt is not due yet

    store.request_dead_letter_retry("events", [1])
    client = make_client(url=proxy.url)
    assert client.wants_round()
    with pytest.raises(TransientError, match="500"):
        client.run_once(attempts=1)
    assert central.seqs("readings") == store_seqs(store, "readings")  # the rest of the round's work was done
    assert central.seqs("events") == [s for s in store_seqs(store, "events") if s != 1]
    assert store.dead_letters()[0]["attempts"] == 3
    assert not client.wants_round()
    posts = len(proxy.requests)
    for _ in range(5):  # the rounds that follow do not send it again before its time
        client.run_once(attempts=1)
    assert len(proxy.requests) - posts <= 5 * 2 and not any(
        MARKER.encode() in gzip.decompress(r.body) for r in proxy.requests[posts:] if r.body
    )
