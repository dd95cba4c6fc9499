"""The SMS queue under faults, on SQLite and PostgreSQL with the simulated modem on a real pty and a local HTTP
SMS gateway: no phone number in errors, references or logs whatever its spelling and wherever a text is cut; one
worker at a time on the modem's port (the other's round waits, no attempt used); a claim holds from when it was
made, and an outcome is recorded only under its own claim; a channel that is down (port missing, modem mute,
gateway unreachable) stops the round and backs off as a whole without using the messages' attempts."""

from __future__ import annotations

import json
import os
import pty
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from sync.central.sms import queue, worker
from sync.central.sms.senders import ChannelError, HttpSender, ModemSender
from sync.central.sms.tables import channels
from tests.central.conftest import Gateway, central_of
from tests.central.officers import logged_in
from tests.central.test_sms import AT, E164, PHONE, answer, cfg, number, opted_in, rows, send
from tests.fixtures.modem import Modem
from tests.fixtures.wsgi import LiveServer

# the citizen's number as gateways and modems may write it back
SPELLINGS = [PHONE, E164, E164[1:], PHONE[1:], "0812 3456 7890", "0812-3456-7890", "0812.3456.7890",
             "+62 812-3456-7890", "62 (812) 3456 7890", "+62 812 3456 7890",
             "\uff10\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10",  # fullwidth
             "\u0660\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660"]  # fmt: skip
# what must never be seen of it: any four of its digits in a row
PIECES = [PHONE[i : i + 4] for i in range(1, len(PHONE) - 3)]


def clean(text: str) -> bool:
    """Whether ``text`` holds no piece of the number, in any digits."""
    ascii_text = queue._ascii_digits(text)
    return not any(piece in ascii_text.replace(" ", "").replace("-", "").replace(".", "") for piece in PIECES)


@pytest.fixture
def ppid(app: Flask) -> FlaskClient:
    return logged_in(app, "ppid1", "ppid")


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level("DEBUG")
    return caplog


@pytest.fixture
def talker() -> Iterator[dict[str, Any]]:
    """A local HTTP SMS gateway that answers every POST with ``status`` and ``body`` (settable)."""
    said: dict[str, Any] = {"status": "200 OK", "body": b"{}", "posts": 0}

    def app(environ: Any, start_response: Any) -> Any:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        said["posts"] += 1
        start_response(said["status"], [("Content-Type", "application/json")])
        return [said["body"]]

    with LiveServer(app, name="sms-talker") as server:
        said["url"] = server.url + "/send"
        yield said


def test_no_spelling_of_the_number_survives_scrubbing() -> None:
    for spelling in SPELLINGS:
        scrubbed = queue.scrub(f"+CMS ERROR: 500 for {spelling}, retry in 60 s", E164)
        assert clean(scrubbed) and scrubbed.startswith("+CMS ERROR: 500 for ") and "60 s" in scrubbed, (
            spelling
        )
        assert clean(queue.scrub(f"to {spelling}")), spelling  # also without knowing the number
    assert queue.scrub(f"to {PHONE}", E164) == "to +62812*****890"
    assert queue.scrub("id 1234567 at 12:30", E164) == f"id {queue.HIDDEN} at 12:30"
    assert queue.scrub("HTTP 503, +CMGS: 12, 10 s") == "HTTP 503, +CMGS: 12, 10 s"


def test_a_gateways_answer_cut_at_the_number_leaves_none_of_it(
    app: Flask, gateway: Gateway, ppid: FlaskClient, talker: dict[str, Any], logs: pytest.LogCaptureFixture
) -> None:
    """The gateway echoes the number where the error (120 characters) and the reference (64) are cut: the
    number is scrubbed before the cut, in every spelling, so no part of it is kept or logged."""
    gateway.send("submissions", [opted_in(seq, "request", seq) for seq in (1, 2)])
    for ordinal in (1, 2):
        answer(ppid, number(ordinal))
    settings = cfg(sms_sender="http", sms_http_url=talker["url"], sms_http_ok_field="status",
                   sms_http_ok_value="success")  # fmt: skip
    sender = HttpSender(talker["url"], "", settings.sms_http_body, ok_field="status", ok_value="success")
    for spelling in (
        "0812 3456 7890",
        "\uff10\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10",
    ):
        before = (
            '{"status": "queued", "note": "' + "x" * (120 - 41) + " to "
        )  # the cut falls inside the number
        talker["body"] = (before + spelling + '"}').encode()
        report = send(app, sender, settings, max(r["next_ms"] for r in rows(app)))
        assert len(report.retrying) == 2, report
        for row in rows(app):
            assert row["attempts"] >= 1 and "without status=success" in row["last_error"]
            assert clean(row["last_error"]), row["last_error"]
    talker["body"] = ('{"status": "success", "id": "' + "m" * 16 + '", "to": "+62 812-3456-7890"}').encode()
    assert len(send(app, sender, settings, max(r["next_ms"] for r in rows(app))).sent) == 2
    for row in rows(app):
        assert row["state"] == "sent" and row["reference"].startswith('{"status": "success"')
        assert clean(row["reference"]), row["reference"]
    assert clean(logs.text) and "sms 1 sent" in logs.text


class Blurting:
    """A sender whose failure message holds the number, written in fullwidth digits."""

    def send(self, phone: str, text: str, key: str) -> str:
        raise RuntimeError(
            "no route to \uff10\uff18\uff11\uff12-\uff13\uff14\uff15\uff16-\uff17\uff18\uff19\uff10"
        )

    def close(self) -> None:
        pass


def test_every_log_line_and_error_of_the_worker_is_scrubbed(
    app: Flask, gateway: Gateway, ppid: FlaskClient, logs: pytest.LogCaptureFixture
) -> None:
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    report = send(app, Blurting(), cfg(), AT)
    (row,) = rows(app)
    assert report.retrying == [row["id"]] and row["last_error"] == "RuntimeError: no route to +62812*****890"
    assert "sms 1 failed" in logs.text and clean(logs.text)
    worker.log.error("round failed", exc_info=RuntimeError(f"for {PHONE}"))  # a traceback is scrubbed too
    assert "RuntimeError: for [digits hidden]" in logs.text and clean(logs.text)


class Meanwhile:
    """Worker A's sender: sends through ``inner``; ``before(n)`` runs before its n-th message (0-based) is
    handed to the modem (A holds the port and the message's claim), ``after(n)`` once the modem took it."""

    def __init__(self, inner: ModemSender, before: Any = None, after: Any = None):
        self.inner, self.before, self.after, self.count = inner, before, after, 0

    def send(self, phone: str, text: str, key: str) -> str:
        count, self.count = self.count, self.count + 1
        if self.before:
            self.before(count)
        reference = self.inner.send(phone, text, key)
        if self.after:
            self.after(count)
        return reference

    def close(self) -> None:
        self.inner.close()


def test_a_long_round_keeps_its_claims_and_a_second_worker_waits_for_the_port(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem, logs: pytest.LogCaptureFixture
) -> None:
    """Worker A's round outlasts the lease (its second message is claimed after it); worker B's round starts
    meanwhile: B does not list A's message in flight as interrupted, cannot open the modem's port (A holds it
    exclusively), so its round waits without using an attempt; every message goes out once, at attempt 1."""
    gateway.send("submissions", [opted_in(seq, "request", seq) for seq in (1, 2, 3)])
    for ordinal in (1, 2, 3):
        answer(ppid, number(ordinal))
    settings = cfg(sms_modem_port=modem.path)
    state = central_of(app)
    key = worker.hash_key(state.master_key, settings)
    lease = worker.lease_ms(settings)
    now = [AT]
    seen: dict[str, Any] = {}

    def slow_first(count: int) -> None:
        if count == 0:  # the first message took longer than the lease
            now[0] = AT + lease + 1_000

    def b_runs(count: int) -> None:
        if count == 1:  # A holds the port and the second message's claim
            seen["b"] = worker.send_due(state.engine, ModemSender(modem.path, timeout_s=10), settings, key,
                                        AT + lease + 2_000)  # fmt: skip
            seen["rows"] = rows(app)

    sender = Meanwhile(ModemSender(modem.path, timeout_s=10), before=b_runs, after=slow_first)
    report_a = worker.send_due(state.engine, sender, settings, key, AT, clock=lambda: now[0])
    b = seen["b"]
    assert b.interrupted == [] and b.sent == [] and "held by another SMS worker" in b.channel, b
    in_flight = sorted((r["state"], r["attempts"]) for r in seen["rows"])
    assert in_flight == [("pending", 0), ("sending", 1), ("sent", 1)]  # B used no attempt
    assert len(report_a.sent) == 3 and report_a.interrupted == []
    assert [(r["state"], r["attempts"]) for r in rows(app)] == [("sent", 1)] * 3
    assert sorted(t for _n, t in modem.sent) == sorted(r["text"] for r in rows(app)) and len(modem.sent) == 3
    assert "this round waits (no attempt used)" in logs.text


def test_an_outcome_is_recorded_only_under_its_own_claim(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem, logs: pytest.LogCaptureFixture
) -> None:
    """A's send outlasts its lease for real: another worker lists it as interrupted meanwhile. A's "sent" does
    not overwrite that (the officer decides), it is logged, and the message is never sent again by itself."""
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    settings = cfg(sms_modem_port=modem.path)
    engine = central_of(app).engine
    lease = worker.lease_ms(settings)

    def other_worker(count: int) -> None:
        assert worker.recover(engine, AT + lease, lease) == [rows(app)[0]["id"]]

    report = send(app, Meanwhile(ModemSender(modem.path, timeout_s=10), before=other_worker), settings, AT)
    (row,) = rows(app)
    assert report.sent == [] and len(modem.sent) == 1
    assert row["state"] == "failed" and row["last_error"] == worker.INTERRUPTED and row["reference"] is None
    assert "changed while this worker sent it" in logs.text
    assert send(app, ModemSender(modem.path, timeout_s=10), settings, AT + lease + 60_000).sent == []
    assert len(modem.sent) == 1


def channel_rows(app: Flask) -> list[dict[str, Any]]:
    with central_of(app).engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(channels)).mappings()]


def test_a_missing_port_backs_off_the_round_and_keeps_the_attempts(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem, tmp_path: Path
) -> None:
    """The modem's port is missing for several rounds (unplugged), then comes back: the rounds back off as a
    whole, the SMS page shows the channel down, and every message is sent once, at attempt 1."""
    gateway.send("submissions", [opted_in(seq, "request", seq) for seq in (1, 2, 3)])
    for ordinal in (1, 2, 3):
        answer(ppid, number(ordinal))
    link = tmp_path / "ttyUSB-modem"  # the stable name of the modem (/dev/serial/by-id/...)
    settings = cfg(sms_modem_port=str(link), sms_backoff_base_s=60, sms_backoff_cap_s=600)
    at = AT
    for tries in range(1, 5):
        report = send(app, ModemSender(str(link), timeout_s=10), settings, at)
        assert "channel is down" in report.channel and not report.retrying and not report.failed
        assert [(r["state"], r["attempts"], r["last_error"]) for r in rows(app)] == [("pending", 0, None)] * 3
        (state,) = channel_rows(app)
        assert state["state"] == "down" and state["failures"] == tries and state["since_ms"] == AT
        assert (
            state["next_ms"] == at + min(60_000 * 2 ** (tries - 1), 600_000) and str(link) in state["error"]
        )
        waiting = send(app, ModemSender(str(link), timeout_s=10), settings, state["next_ms"] - 1)
        assert "tried again in 0 s" in waiting.channel  # the round before the backoff is over does not try
        at = state["next_ms"]
    page = ppid.get("/sms").get_data(as_text=True)
    assert 'id="sms-channel-modem"' in page and "4 kali berturut-turut" in page and "cannot be opened" in page
    assert "Tidak ada SMS yang gagal." in page  # no message is listed as failing: the channel is
    os.symlink(modem.path, link)  # the modem is back
    report = send(app, ModemSender(str(link), timeout_s=10), settings, at)
    assert len(report.sent) == 3 and report.channel == "" and len(modem.sent) == 3
    assert [(r["state"], r["attempts"]) for r in rows(app)] == [("sent", 1)] * 3
    assert channel_rows(app)[0]["state"] == "up" and 'id="sms-channel' not in ppid.get("/sms").get_data(
        as_text=True
    )


def test_a_mute_modem_and_an_unreachable_gateway_are_the_channels_failures(
    app: Flask, gateway: Gateway, ppid: FlaskClient, talker: dict[str, Any]
) -> None:
    """A modem that does not answer ``AT``, a gateway whose port refuses connections: the channel is down, the
    message keeps its attempts. A gateway's 4xx for one message is that message's failure: it counts."""
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    master, slave = pty.openpty()  # a port with nothing answering behind it
    try:
        report = send(
            app, ModemSender(os.ttyname(slave), timeout_s=1), cfg(sms_modem_port=os.ttyname(slave)), AT
        )
    finally:
        os.close(master)
        os.close(slave)
    assert "did not answer AT" in report.channel and rows(app)[0]["attempts"] == 0
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/send"
    http = cfg(sms_sender="http", sms_http_url=closed)
    for unreachable in (closed, "http://sms-gateway.invalid/send"):  # refused; a name that never resolves
        with pytest.raises(ChannelError, match="cannot be reached"):
            HttpSender(unreachable, "", http.sms_http_body).send(E164, "x", "k")
    report = send(app, HttpSender(closed, "", http.sms_http_body), http, AT)
    assert "http channel is down" in report.channel and rows(app)[0]["attempts"] == 0
    assert {r["name"]: r["state"] for r in channel_rows(app)} == {"modem": "down", "http": "down"}
    talker["status"], talker["body"] = "400 Bad Request", b'{"error": "invalid destination"}'
    up = cfg(sms_sender="http", sms_http_url=talker["url"])
    report = send(app, HttpSender(talker["url"], "", up.sms_http_body), up, AT + 60_000)  # after the backoff
    assert report.retrying and rows(app)[0]["attempts"] == 1 and "HTTP 400" in rows(app)[0]["last_error"]
    assert {r["name"]: r["state"] for r in channel_rows(app)} == {"modem": "down", "http": "up"}
    assert "cannot be connected" not in json.dumps(channel_rows(app), default=str)  # up: its error is gone


def test_a_gateways_answer_is_kept_without_its_token_or_any_number() -> None:
    """A gateway that echoes its API key and the number ("bad key <token> for <to>") has both hidden before the
    answer is cut, whatever the cut leaves."""
    sender = HttpSender("http://127.0.0.1:9/send", "tok-SECRET-123", '{"to": "{to}", "text": "{text}"}')
    said = sender.hide('{"status": "failed", "msg": "bad key tok-SECRET-123 for 0812 3456 7890"}')
    assert "tok-SECRET" not in said and "[token]" in said and "3456" not in said
    assert "SECRET" not in sender.hide("x" * 110 + "tok-SECRET-123")[:120]


def test_a_modem_unplugged_while_a_message_is_begun_keeps_its_attempt(
    app: Flask, gateway: Gateway, ppid: FlaskClient
) -> None:
    """The port fails after it was opened but before the text was handed over (the modem pulled mid-round):
    nothing was sent, so it is the channel's failure: the message keeps its attempt and the round backs off."""
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    modem = Modem()
    try:
        modem.vanish_on_send = True
        report = send(app, ModemSender(modem.path, timeout_s=5), cfg(sms_modem_port=modem.path), AT)
    finally:
        modem.close()
    (message,) = rows(app)
    assert (message["state"], message["attempts"]) == ("pending", 0) and modem.sent == []
    assert "port failed" in report.channel and report.retrying == [] and report.failed == []
