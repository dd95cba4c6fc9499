"""SMS to citizens, end to end on SQLite and PostgreSQL: submissions that ask for it (the record's ``sms``
field), the back office's steps that queue one message each, and the worker sending them through a simulated
GSM modem on a real pty (AT commands) or to a local HTTP SMS gateway: sent once (also across a restart and an
interrupted send), retried with backoff, held by the daily cap per number, never for an anonymous complaint,
failures listed in the back office with a retry button, and the number never in a log."""

from __future__ import annotations

import html
import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from gateway import regno
from gateway.cli import cli
from gateway.store import Store
from sync.central.backoffice.models import audit
from sync.central.sms import queue, worker
from sync.central.sms.senders import HttpSender, ModemSender
from sync.central.sms.settings import DEFAULT_BODY, SmsSettings
from sync.central.sms.tables import outbox
from tests.central.conftest import T0, Gateway, central_of
from tests.central.officers import citizen, logged_in, post
from tests.fixtures.modem import Modem
from tests.fixtures.wsgi import LiveServer

AT = int(T0 * 1000)
DAY_MS = 86_400_000
PHONE = "081234567890"
E164 = "+6281234567890"
ANSWER = {"held": "ya", "decision": "penuh", "form_of": "softcopy", "medium": "langsung", "cost": "0",
          "text": "Salinan APBDes terlampir."}  # fmt: skip


def number(ordinal: int) -> str:
    return regno.make("dmk-wonosalam", date(2026, 11, 23), ordinal)


def opted_in(seq: int, kind: str, ordinal: int, sms: Any = True, **public: Any) -> dict[str, Any]:
    record = citizen(seq, kind, number(ordinal), AT, **public)
    if sms is not None:
        record["sms"] = sms
    return record


@pytest.fixture
def ppid(app: Flask) -> FlaskClient:
    return logged_in(app, "ppid1", "ppid")


def step(client: FlaskClient, num: str, name: str, **data: Any) -> Any:
    assert client.get("/kotak-masuk").status_code in (200, 403)  # the inbox takes in what arrived
    page = f"/berkas/dmk-wonosalam/{num}"
    return post(client, f"{page}/{name}", data, page=page)


def answer(client: FlaskClient, num: str) -> None:
    assert step(client, num, "verifikasi").status_code == 302
    assert step(client, num, "jawab", **ANSWER).status_code == 302


def cfg(**overrides: Any) -> SmsSettings:
    values: dict[str, Any] = {
        "sms_sender": "modem",
        "sms_modem_port": "/dev/null",
        "sms_modem_timeout_s": 10.0,
    }
    return SmsSettings(**{**values, **overrides})


def rows(app: Flask) -> list[dict[str, Any]]:
    with central_of(app).engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]


def send(app: Flask, sender: Any, settings: SmsSettings, now_ms: int) -> worker.RoundReport:
    state = central_of(app)
    return worker.send_due(
        state.engine, sender, settings, worker.hash_key(state.master_key, settings), now_ms
    )


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_an_answer_texts_the_citizen_once_through_the_modem(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem, logs: pytest.LogCaptureFixture
) -> None:
    records = [opted_in(1, "request", 1), opted_in(2, "request", 2, sms=None),
               opted_in(3, "complaint", 3, anonim=True), opted_in(4, "request", 4, sms=False)]  # fmt: skip
    assert gateway.send("submissions", records).json == {"stream": "submissions", "acked": 4}
    for ordinal in (1, 2, 4):
        answer(ppid, number(ordinal))
    assert step(ppid, number(3), "verifikasi").status_code == 302  # anonymous: told at the kiosk only
    assert step(ppid, number(3), "tanggapi", text="Sudah ditambal.").status_code == 302
    queued = rows(app)
    assert [(r["number"], r["event"], r["phone_masked"]) for r in queued] == [
        (number(1), "answered", "+62812*****890")
    ]
    settings = cfg(sms_modem_port=modem.path)
    assert send(app, ModemSender(modem.path, timeout_s=10), settings, AT).sent == [queued[0]["id"]]
    text = f"Permohonan {number(1)} sudah dijawab. Baca di anjungan: bawa struk Anda."
    assert modem.sent == [(E164, text)] and len(text) <= 160
    assert modem.commands[:3] == ["AT", "AT+CMGF=1", f'AT+CMGS="{E164}"']
    assert rows(app)[0]["state"] == "sent" and rows(app)[0]["reference"] == "1"
    page = ppid.get(f"/berkas/dmk-wonosalam/{number(1)}").get_data(as_text=True)
    assert 'id="case-sms"' in page and "dijawab:\n    terkirim" in page and PHONE[1:] not in page
    not_asked = ppid.get(f"/berkas/dmk-wonosalam/{number(2)}").get_data(as_text=True)
    assert "Warga tidak meminta SMS" in not_asked and not re.search(r'id="case-sms-\d', not_asked)
    # again, and after a restart (a new worker recovers first): nothing is sent twice
    assert send(app, ModemSender(modem.path, timeout_s=10), settings, AT + 60_000).sent == []
    assert worker.recover(central_of(app).engine, AT + 120_000, worker.lease_ms(settings)) == []
    assert send(app, ModemSender(modem.path, timeout_s=10), settings, AT + 120_000).sent == []
    # closing is told too (its own key), still once
    assert step(ppid, number(1), "selesai").status_code == 302
    assert step(ppid, number(1), "selesai").status_code == 409  # a repeated step changes nothing
    send(app, ModemSender(modem.path, timeout_s=10), settings, AT + 180_000)
    assert [t for _n, t in modem.sent] == [
        text,
        f"Permohonan {number(1)} sudah selesai. Baca di anjungan: bawa struk Anda.",
    ]
    assert PHONE[1:] not in logs.text and "sms" in logs.text.lower()


def test_from_the_kiosks_store_to_the_citizens_phone(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem, store: Store
) -> None:
    """The kiosk's own records (its store's outbox) reach the central with the opt-in; the kiosk purges the
    number once the central has them, and the central still texts it."""
    made = [store.add_submission("request", {"rincian": "APBDes 2025", "tujuan": "Musyawarah", "cara_memperoleh":
            "melihat"}, {"nama": "Siti", "nik": "3321014507800001", "telepon": PHONE}, gateway_id="dmk-wonosalam",
            due_date=None, day=date(2026, 11, 23), notify_sms=flag)["number"] for flag in (True, False)]  # fmt: skip
    records = store.outbox("submissions")
    assert [r.get("sms") for r in records] == [True, None]
    acked = gateway.send("submissions", records).json["acked"]
    store.mark_acked("submissions", acked)
    assert store.purge_personal(acked) == 2
    for num in made:
        answer(ppid, num)
    send(app, ModemSender(modem.path, timeout_s=10), cfg(sms_modem_port=modem.path), AT)
    assert modem.sent == [(E164, f"Permohonan {made[0]} sudah dijawab. Baca di anjungan: bawa struk Anda.")]


class Crash(BaseException):
    """The worker's process dying between the modem's answer and recording it."""


class CrashAfterSending:
    def __init__(self, inner: ModemSender):
        self.inner = inner

    def send(self, phone: str, text: str, key: str) -> str:
        self.inner.send(phone, text, key)
        raise Crash()

    def close(self) -> None:
        self.inner.close()


def test_an_interrupted_send_is_never_repeated_by_itself_and_an_officer_may_retry_it(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem
) -> None:
    gateway.send("submissions", [opted_in(1, "request", 1)])
    assert step(ppid, number(1), "verifikasi").status_code == 302
    assert step(ppid, number(1), "perpanjang", days="3", text="Arsip di gudang").status_code == 302
    settings = cfg(sms_modem_port=modem.path)
    with pytest.raises(Crash):
        send(app, CrashAfterSending(ModemSender(modem.path, timeout_s=10)), settings, AT)
    assert len(modem.sent) == 1 and "diperpanjang sampai 10-12-2026" in modem.sent[0][1]
    assert rows(app)[0]["state"] == "sending"
    # the next worker, once the claim's lease ran out: the message may have gone out, so it is not sent again
    # but listed for an officer
    lease = worker.lease_ms(settings)
    assert worker.recover(central_of(app).engine, AT + lease - 1, lease) == []  # still held
    (message_id,) = worker.recover(central_of(app).engine, AT + lease, lease)
    assert send(app, ModemSender(modem.path, timeout_s=10), settings, AT + lease).sent == []
    assert len(modem.sent) == 1 and rows(app)[0]["state"] == "failed"
    page = ppid.get("/sms").get_data(as_text=True)
    assert f'id="sms-{message_id}"' in page and "+62812*****890" in page and number(1) in page
    assert PHONE[1:] not in page and "interrupted" in page
    assert logged_in(app, "tek1", "teknisi").get("/sms").status_code == 403
    assert post(ppid, f"/sms/{message_id}/ulang", page="/sms").status_code == 302
    assert post(ppid, f"/sms/{message_id}/ulang", page="/sms").status_code == 404  # no longer failed
    assert send(app, ModemSender(modem.path, timeout_s=10), settings, AT + lease + 1).sent == [message_id]
    assert len(modem.sent) == 2 and rows(app)[0]["state"] == "sent"
    with central_of(app).engine.connect() as conn:
        entry = conn.execute(sa.select(audit).where(audit.c.action == "sms-retry")).mappings().one()
    assert entry["username"] == "ppid1" and entry["target"] == f"dmk-wonosalam/{number(1)}"
    assert PHONE[1:] not in json.dumps(dict(entry), default=str)


def test_a_modem_that_refuses_is_retried_with_backoff_then_listed_as_failed(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem, logs: pytest.LogCaptureFixture
) -> None:
    gateway.send("submissions", [opted_in(1, "complaint", 1)])
    assert step(ppid, number(1), "verifikasi").status_code == 302
    assert step(ppid, number(1), "tunda", text="Menunggu foto lokasi").status_code == 302
    settings = cfg(sms_modem_port=modem.path, sms_max_attempts=3, sms_backoff_base_s=60, sms_backoff_cap_s=90)
    modem.fail_next = 3
    sender = ModemSender(modem.path, timeout_s=10)
    assert send(app, sender, settings, AT).retrying
    first = rows(app)[0]
    assert (first["state"], first["attempts"], first["next_ms"]) == ("pending", 1, AT + 60_000)
    assert "+CMS ERROR: 500" in first["last_error"]
    assert send(app, sender, settings, AT + 59_999).retrying == []  # not due yet
    assert send(app, sender, settings, AT + 60_000).retrying
    assert rows(app)[0]["next_ms"] == AT + 60_000 + 90_000  # doubled, then capped
    assert send(app, sender, settings, AT + 150_000).failed
    assert modem.sent == [] and rows(app)[0]["state"] == "failed" and rows(app)[0]["attempts"] == 3
    assert "+CMS ERROR: 500" in ppid.get("/sms").get_data(as_text=True)
    assert PHONE[1:] not in logs.text and E164 not in logs.text and "sms 1 failed" in logs.text


@pytest.fixture
def receiver() -> Iterator[dict[str, Any]]:
    """A local HTTP SMS gateway: it records each POST (headers and JSON body) and answers 500 to the first
    ``fail`` of them."""
    seen: dict[str, Any] = {"posts": [], "fail": 0, "lock": threading.Lock()}

    def app(environ: Any, start_response: Any) -> Any:
        from werkzeug.wrappers import Request

        req = Request(environ)
        with seen["lock"]:
            seen["posts"].append({"headers": dict(req.headers), "body": json.loads(req.get_data())})
            failing = seen["fail"] > 0
            seen["fail"] -= 1 if failing else 0
        status = "500 Internal Server Error" if failing else "200 OK"
        start_response(status, [("Content-Type", "application/json")])
        return [b'{"id": "msg-7"}' if not failing else b"{}"]

    with LiveServer(app, name="sms-gateway") as server:
        seen["url"] = server.url + "/send"
        yield seen


def test_an_http_gateway_failure_then_success_with_backoff(
    app: Flask, gateway: Gateway, ppid: FlaskClient, receiver: dict[str, Any], logs: pytest.LogCaptureFixture
) -> None:
    gateway.send("submissions", [opted_in(1, "objection", 1, nomor_permohonan=number(9))])
    assert step(ppid, number(1), "verifikasi").status_code in (302, 409)
    atasan = logged_in(app, "atasan1", "atasan")
    assert (
        step(atasan, number(1), "putus", decision="diterima", text="Informasi wajib diberikan.").status_code
        == 302
    )
    body = '{"messages": [{"destination": "{to}", "text": "{text}", "ref": "{key}"}], "auth": "{token}"}'
    settings = cfg(
        sms_sender="http", sms_http_url=receiver["url"], sms_http_token="rahasia-uji", sms_http_body=body
    )
    sender = HttpSender(receiver["url"], "rahasia-uji", body)
    receiver["fail"] = 1
    assert send(app, sender, settings, AT).retrying
    assert "HTTP 500" in rows(app)[0]["last_error"]
    assert "+62812*****890" in ppid.get("/sms").get_data(as_text=True)  # listed while it is retried
    assert send(app, sender, settings, AT + 60_000).sent
    first, second = receiver["posts"]
    assert (
        first["body"] == second["body"]
        and first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"]
    )
    (message,) = second["body"]["messages"]
    assert message["destination"] == E164 and message["text"].startswith(
        f"Keberatan {number(1)} sudah dijawab."
    )
    assert (
        second["headers"]["Authorization"] == "Bearer rahasia-uji" and second["body"]["auth"] == "rahasia-uji"
    )
    done = rows(app)[0]
    assert done["state"] == "sent" and done["reference"] == '{"id": "msg-7"}' and done["last_error"] is None
    assert "Tidak ada SMS yang gagal." in ppid.get("/sms").get_data(as_text=True)
    assert PHONE[1:] not in logs.text


def test_the_daily_cap_per_number_holds_the_rest_until_the_next_day(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem
) -> None:
    gateway.send("submissions", [opted_in(seq, "request", seq) for seq in (1, 2, 3)])
    for ordinal in (1, 2, 3):
        answer(ppid, number(ordinal))
    settings = cfg(sms_modem_port=modem.path, sms_daily_cap=2)
    report = send(app, ModemSender(modem.path, timeout_s=10), settings, AT)
    assert len(report.sent) == 2 and len(report.capped) == 1 and len(modem.sent) == 2
    held = next(r for r in rows(app) if r["state"] == "pending")
    tomorrow = worker.next_day_ms(AT)
    assert held["next_ms"] == tomorrow and held["attempts"] == 0 and tomorrow - AT <= DAY_MS
    assert send(app, ModemSender(modem.path, timeout_s=10), settings, tomorrow - 1).sent == []
    assert send(app, ModemSender(modem.path, timeout_s=10), settings, tomorrow).sent == [held["id"]]
    assert len(modem.sent) == 3


def test_the_worker_command_sends_the_queue_once(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem, db_url: str, tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    monkeypatch.setenv("ANJUNGAN_CENTRAL_SERVER_SMS_SENDER", "modem")
    monkeypatch.setenv("ANJUNGAN_CENTRAL_SERVER_SMS_MODEM_PORT", modem.path)
    monkeypatch.setenv("ANJUNGAN_CENTRAL_SERVER_KEY_FILE", str(tmp_path / "central.key"))
    args = ["central", "--db", db_url, "--files-dir", str(tmp_path / "files"), "sms-worker", "--once"]
    outputs = []
    for _ in range(2):  # a second run (a restart) sends nothing more
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert (
        len(modem.sent) == 1 and outputs[0].startswith("sms: 1 sent") and outputs[1].startswith("sms: 0 sent")
    )
    assert PHONE[1:] not in "".join(outputs)
    monkeypatch.setenv("ANJUNGAN_CENTRAL_SERVER_SMS_SENDER", "satelit")
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1 and "SMS_SENDER" in refused.output


def test_the_opt_in_is_optional_and_never_gets_a_submission_refused(gateway: Gateway, app: Flask) -> None:
    # text no database can store ("\x00", a lone surrogate) is no reason either: the flag is never stored as text
    flags: list[Any] = [True, 1, 0, False, None, "ya", 2, {"x": 1}, 1.0, "\x00", "\ud800", {"a": "\ud800"}]
    records = [opted_in(seq, "request", seq, sms=flag) for seq, flag in enumerate(flags, 1)]
    response = gateway.send("submissions", records)
    assert response.status_code == 200 and response.json["acked"] == len(flags), response.json
    with central_of(app).engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT notify_sms FROM submissions ORDER BY seq")).scalars().all()
    assert [bool(v) for v in stored] == [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
        False,
    ]


def test_texts_are_one_gsm7_sms_and_never_hold_the_number() -> None:
    longest = regno.make("a" * 32, date(2026, 11, 23), 9_999_999)  # the longest a kiosk makes, and more
    for event in queue.EVENTS:
        for kind in ("request", "complaint", "objection"):
            text = queue.text_for(kind, longest, event, "2026-12-10")
            assert len(text) <= 160 and queue.GSM7_SAFE.fullmatch(text), text
    assert queue.normalise_phone("0812-3456-7890") == E164 == queue.normalise_phone("+62 812 3456 7890")
    fullwidth = "\uff10\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10"  # ０８１２...
    assert queue.normalise_phone(fullwidth) == E164 == queue.normalise_phone("\u0660\u0668" + PHONE[2:])
    assert queue.normalise_phone("0243551234") is None and queue.normalise_phone("+15551234567") is None
    assert queue.scrub(f"ERROR for {PHONE} / 6281234567890 / {E164}", E164).count("+62812*****890") == 3
    assert json.loads(DEFAULT_BODY) == {"to": "{to}", "text": "{text}"}


def test_the_serve_loop_sends_in_its_own_thread_and_stops(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem
) -> None:
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    state = central_of(app)
    settings = cfg(sms_modem_port=modem.path, sms_every_s=1)
    running = worker.Worker(state.engine, ModemSender(modem.path, timeout_s=10), settings,
                            worker.hash_key(state.master_key, settings), state.clock).start()  # fmt: skip
    try:
        assert modem.got_message.wait(60)
    finally:
        running.close()
    assert len(modem.sent) == 1


def test_settings_are_checked_and_documented() -> None:
    import importlib.util
    from pathlib import Path

    from gateway.errors import ConfigError
    from sync.central.settings import CentralSettings
    from sync.central.sms.settings import env_names

    prefix = "ANJUNGAN_CENTRAL_SERVER_SMS_"
    env = {prefix + "SENDER": "modem", prefix + "MODEM_PORT": "/dev/ttyUSB0", prefix + "DAILY_CAP": "3"}
    assert SmsSettings.from_env(env).sms_daily_cap == 3
    CentralSettings.from_env(env)  # the central's own settings leave these alone
    for wrong, says in (({prefix + "SENDER": "modem"}, "MODEM_PORT"), ({prefix + "SENDER": "pigeon"}, "SENDER"),
                        ({prefix + "DAILY_CAP": "lima"}, "DAILY_CAP"), ({prefix + "HTTP_BODY": "[1]"}, "HTTP_BODY"),
                        ({prefix + "SENDER": "http"}, "HTTP_URL")):  # fmt: skip
        with pytest.raises(ConfigError, match=says):
            SmsSettings.from_env(wrong)
    repo = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("update_docs", repo / "scripts" / "update-docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = (repo / "docs" / "sms.md").read_text()
    assert module.generated_sms(doc) == doc, "run: .venv/bin/python scripts/update-docs.py"
    assert [name for name in env_names() if f"`{name}`" not in doc] == []


def test_a_complaint_that_closes_by_itself_is_told_too(
    app: Flask, gateway: Gateway, ppid: FlaskClient
) -> None:
    from sync.central.backoffice import cases

    gateway.send("submissions", [opted_in(1, "complaint", 1)])
    assert step(ppid, number(1), "verifikasi").status_code == 302
    assert step(ppid, number(1), "tanggapi", text="Sudah ditambal.").status_code == 302
    engine = central_of(app).engine
    assert cases.close_quiet_complaints(engine, AT + 30 * DAY_MS) == 1  # no reply within 10 working days
    assert cases.close_quiet_complaints(engine, AT + 31 * DAY_MS) == 0
    assert [(r["event"], r["key"].rsplit("/", 1)[1]) for r in rows(app)] == [
        ("answered", "2"),
        ("closed", "auto"),
    ]
    assert rows(app)[1]["text"] == f"Pengaduan {number(1)} sudah selesai. Baca di anjungan: bawa struk Anda."


def test_a_modem_that_confirms_late_is_never_asked_again_and_counts_toward_the_cap(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem, logs: pytest.LogCaptureFixture
) -> None:
    """The text and Ctrl-Z were written, the ``+CMGS`` came after the timeout: the message may have gone out, so
    it is listed for an officer and never sent again by itself, and it uses up the number's day."""
    gateway.send("submissions", [opted_in(1, "request", 1), opted_in(2, "request", 2)])
    answer(ppid, number(1))
    settings = cfg(sms_modem_port=modem.path, sms_daily_cap=1)
    modem.late_confirm_next = 1
    report = send(app, ModemSender(modem.path, timeout_s=3), settings, AT)
    (first,) = rows(app)
    assert report.interrupted == [first["id"]] and report.retrying == [] and len(modem.sent) == 1
    assert first["state"] == "failed" and "may have been sent" in first["last_error"]
    for later in (AT + 300_000, AT + 900_000):  # no retry by itself, whatever the backoff
        assert send(app, ModemSender(modem.path, timeout_s=10), settings, later).sent == []
    assert len(modem.sent) == 1 and "interrupted" in ppid.get("/sms").get_data(as_text=True)
    answer(ppid, number(2))  # a second message to the same number that day waits for the next one
    assert send(app, ModemSender(modem.path, timeout_s=10), settings, AT + 1_000_000).capped
    assert len(modem.sent) == 1 and PHONE[1:] not in logs.text


def test_a_late_prompt_is_cancelled_and_the_modem_answers_again(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem
) -> None:
    """No ``>`` within the timeout: ESC cancels the text the modem still waits for, so it does not swallow the
    next commands, and the message is sent on the next attempt."""
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    settings = cfg(sms_modem_port=modem.path)
    modem.late_prompt_next = 1
    sender = ModemSender(modem.path, timeout_s=3)
    assert send(app, sender, settings, AT).retrying
    assert modem.cancelled == 1 and modem.sent == [] and "prompt" in rows(app)[0]["last_error"]
    assert send(app, ModemSender(modem.path, timeout_s=10), settings, rows(app)[0]["next_ms"]).sent
    text = f"Permohonan {number(1)} sudah dijawab. Baca di anjungan: bawa struk Anda."
    assert modem.sent == [(E164, text)] and rows(app)[0]["state"] == "sent"


def test_an_error_to_the_send_command_is_told_with_its_code(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem
) -> None:
    """``+CMS ERROR: 304`` in answer to ``AT+CMGS`` fails the message at once (not as a timeout of the prompt),
    with its code and meaning on the officer's page."""
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    modem.refuse_next = 1
    report = send(app, ModemSender(modem.path, timeout_s=60), cfg(sms_modem_port=modem.path), AT)
    error = rows(app)[0]["last_error"]
    assert (
        report.retrying and "+CMS ERROR: 304 (invalid PDU mode parameter)" in error and "prompt" not in error
    )
    assert modem.cancelled == 0 and "+CMS ERROR: 304" in ppid.get("/sms").get_data(as_text=True)


def test_a_starting_worker_leaves_alone_what_another_live_worker_is_sending(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem
) -> None:
    """``central serve``'s thread and an ``sms-worker --once`` at once: a claim within its lease, by a live
    worker, is not interrupted; one past the lease, or of a worker gone from this host, is."""
    import os
    import socket
    import subprocess

    gateway.send("submissions", [opted_in(seq, "request", seq) for seq in (1, 2)])
    for ordinal in (1, 2):
        answer(ppid, number(ordinal))
    settings = cfg(sms_modem_port=modem.path)
    lease = worker.lease_ms(settings)
    assert lease > 3 * settings.sms_modem_timeout_s * 1000
    dead = subprocess.Popen(["true"])  # a worker that has ended: its pid is free
    dead.wait()
    first, second = (r["id"] for r in rows(app))
    claims = {first: f"{socket.gethostname()}:{os.getppid()}", second: f"{socket.gethostname()}:{dead.pid}"}
    with central_of(app).engine.begin() as conn:
        for message_id, owner in claims.items():
            conn.execute(outbox.update().where(outbox.c.id == message_id)
                         .values(state="sending", claimed_ms=AT, claimed_by=owner))  # fmt: skip
    report = send(app, ModemSender(modem.path, timeout_s=10), settings, AT + 60_000)
    assert report.interrupted == [second] and report.sent == [] and modem.sent == []
    assert [r["state"] for r in rows(app)] == ["sending", "failed"]
    assert worker.recover(central_of(app).engine, AT + lease - 1, lease) == []
    assert worker.recover(central_of(app).engine, AT + lease, lease) == [first]


def test_an_http_gateway_answer_is_checked_when_configured(
    app: Flask, gateway: Gateway, ppid: FlaskClient, receiver: dict[str, Any]
) -> None:
    """With ``SMS_HTTP_OK_FIELD``/``_VALUE`` a 2xx answer must say so; the receiver answers ``{"id": "msg-7"}``."""
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    settings = cfg(sms_sender="http", sms_http_url=receiver["url"], sms_http_ok_field="status",
                   sms_http_ok_value="success")  # fmt: skip
    from sync.central.sms.senders import make_sender

    sender = make_sender(settings)
    assert send(app, sender, settings, AT).retrying
    assert 'without status=success: {"id": "msg-7"}' in rows(app)[0]["last_error"]
    checks = HttpSender(receiver["url"], "", DEFAULT_BODY, ok_field="data.ok", ok_value="true")
    assert checks.succeeded('{"data": {"ok": true}}') and not checks.succeeded('{"data": {"ok": false}}')
    assert not checks.succeeded("OK") and not checks.succeeded('{"data": []}')
    assert HttpSender(receiver["url"], "", DEFAULT_BODY).succeeded("anything")
    ok = cfg(
        sms_sender="http", sms_http_url=receiver["url"], sms_http_ok_field="id", sms_http_ok_value="msg-7"
    )
    assert send(app, make_sender(ok), ok, rows(app)[0]["next_ms"]).sent


def test_the_officer_is_told_when_nothing_sends_the_queue(
    app: Flask, gateway: Gateway, ppid: FlaskClient
) -> None:
    """With no worker sending (none runs, or no SMS_SENDER where it runs), messages stay pending: once one is 15
    minutes past its time the SMS page says so and where to look, instead of "nothing failed"."""
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    assert 'id="sms-overdue"' not in ppid.get("/sms").get_data(as_text=True)  # just queued: not late yet
    with central_of(app).engine.begin() as conn:
        conn.execute(outbox.update().values(next_ms=outbox.c.next_ms - worker.OVERDUE_MS - 1000))
    page = ppid.get("/sms").get_data(as_text=True)
    assert 'id="sms-overdue"' in page and "1 SMS menunggu lebih dari 15 menit" in page
    assert "ANJUNGAN_CENTRAL_SERVER_SMS_SENDER" in page


class SilentGateway:
    """A local HTTP SMS gateway on a raw socket that reads each request whole and then never answers (or, with
    ``cut``, closes the connection without a word): what a gateway that sent the SMS and then hung looks like."""

    def __init__(self, cut: bool = False) -> None:
        self.cut, self.bodies, self.held = cut, [], []  # type: list[Any]
        self.arrived = threading.Condition()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/send"
        self.thread = threading.Thread(target=self._serve, name="silent-sms-gateway", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            data = b""
            while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length: *(\d+)", head)
            while length and len(body) < int(length.group(1)) and (chunk := conn.recv(65536)):
                body += chunk
            with self.arrived:
                self.bodies.append(json.loads(body))
                self.arrived.notify_all()
            if self.cut:
                conn.close()
            else:
                self.held.append(conn)  # read, never answered

    def wait_for(self, count: int) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.bodies) >= count, timeout=30)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (Linux)
        self.sock.close()
        self.thread.join(10)
        for conn in self.held:
            conn.close()


@pytest.mark.parametrize("cut", [False, True], ids=["no-answer", "connection-cut"])
def test_an_http_request_without_an_answer_is_never_repeated_by_itself(
    app: Flask, gateway: Gateway, ppid: FlaskClient, logs: pytest.LogCaptureFixture, cut: bool
) -> None:
    """The request reached the gateway, no answer came (read timeout, or the connection cut): the gateway may
    have sent the SMS and most ignore Idempotency-Key, so the message is "may have been sent" exactly as a late
    modem confirmation: listed for an officer with the choice to send again, never sent again by itself, and
    counted toward the number's day. The receiver sees exactly one request over several rounds."""
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    silent = SilentGateway(cut=cut)
    try:
        settings = cfg(sms_sender="http", sms_http_url=silent.url, sms_backoff_base_s=60)
        sender = HttpSender(silent.url, "", DEFAULT_BODY, timeout_s=1)
        report = send(app, sender, settings, AT)
        silent.wait_for(1)
        (first,) = rows(app)
        assert report.interrupted == [first["id"]] and report.retrying == [] and report.sent == []
        assert (first["state"], first["error_kind"]) == ("failed", "maybe-sent")
        assert "may have been sent" in first["last_error"]
        for later in (AT + 60_000, AT + 600_000, AT + 3_600_000, AT + DAY_MS):  # several rounds, no resend
            assert send(app, sender, settings, later).sent == []
        assert len(silent.bodies) == 1 and silent.bodies[0]["to"] == E164
        page = ppid.get("/sms").get_data(as_text=True)
        assert "mungkin sudah terkirim" in page and "Kirim ulang" in page and "may have been sent" in page
        assert PHONE[1:] not in page and E164 not in page
        assert (
            post(ppid, f"/sms/{first['id']}/ulang", {}, page="/sms").status_code == 302
        )  # the officer's choice
        send(app, sender, settings, AT + DAY_MS + 1)
        silent.wait_for(2)
        assert len(silent.bodies) == 2 and PHONE[1:] not in logs.text
    finally:
        silent.close()


def test_an_http_gateway_that_cannot_be_reached_is_retried_with_backoff(
    app: Flask, gateway: Gateway, ppid: FlaskClient
) -> None:
    """Connection refused: the request never left, so the message is retried with backoff (not "may have been
    sent"), and the SMS page tells the officer the gateway cannot be reached."""
    gateway.send("submissions", [opted_in(1, "request", 1)])
    answer(ppid, number(1))
    closed = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}/send"
    closed.close()  # nothing listens there any more: refused
    settings = cfg(sms_sender="http", sms_http_url=url, sms_backoff_base_s=60)
    report = send(app, HttpSender(url, "", DEFAULT_BODY, timeout_s=5), settings, AT)
    (first,) = rows(app)
    assert report.retrying == [] and report.interrupted == [] and "cannot be reached" in report.channel
    # the channel failed, not the message: it waits with its attempt, and the whole round backs off
    assert (first["state"], first["attempts"], first["error_kind"]) == ("pending", 0, None)
    assert "Gateway SMS tidak dapat dihubungi" in ppid.get("/sms").get_data(as_text=True)


def test_the_sms_page_tells_each_failure_in_the_officers_language(
    app: Flask, gateway: Gateway, ppid: FlaskClient, modem: Modem
) -> None:
    """No modem, a SIM/network refusal (``+CMS ERROR``), a gateway refusal and the daily cap are each told in
    Bahasa Indonesia (English when chosen), with the raw text beside it and never the number."""
    gateway.send("submissions", [opted_in(i, "request", i) for i in range(1, 5)])
    for i in range(1, 5):
        answer(ppid, number(i))
    nowhere = cfg(sms_modem_port="/dev/anjungan-no-such-modem")
    send(app, ModemSender("/dev/anjungan-no-such-modem", timeout_s=10), nowhere, AT)
    # no modem is the channel's failure, not a message's: every message waits with its attempts
    assert [(r["state"], r["attempts"], r["error_kind"]) for r in rows(app)] == [("pending", 0, None)] * 4
    page = html.unescape(ppid.get("/sms").get_data(as_text=True))
    assert (
        "Modem tidak ditemukan atau portnya sedang dipakai program lain" in page
        and "cannot be opened" in page
    )
    assert ppid.get("/bahasa/en?next=/sms").status_code == 302
    english = html.unescape(ppid.get("/sms").get_data(as_text=True))
    assert "The modem was not found or its port is in use by another program" in english
    assert ppid.get("/bahasa/id?next=/sms").status_code == 302
    settings = cfg(sms_modem_port=modem.path, sms_daily_cap=1)
    modem.fail_next = 1  # the network refuses the first message (+CMS ERROR: 500)
    report = send(app, ModemSender(modem.path, timeout_s=10), settings, AT + 3_600_000)
    assert len(report.retrying) == 1 and len(report.sent) == 1 and len(report.capped) == 2
    kinds = {r["id"]: r["error_kind"] for r in rows(app)}
    assert sorted(k for k in kinds.values() if k) == ["capped", "capped", "network"]
    page = ppid.get("/sms").get_data(as_text=True)
    assert "Modem tidak ditemukan" not in page  # the channel is up again
    assert "Kartu SIM atau jaringan operator menolak SMS ini. Kode 500." in page
    assert "Batas SMS harian untuk nomor ini tercapai" in page and "menunggu besok" in page
    assert "Rincian teknis:" in page and "+CMS ERROR: 500" in page
    assert PHONE not in page and E164 not in page and PHONE[1:] not in page
    assert ppid.get("/bahasa/en?next=/sms").status_code == 302
    english = html.unescape(ppid.get("/sms").get_data(as_text=True))
    assert "The SIM card or the operator's network refused this SMS. Code 500." in english
    assert "daily SMS limit" in english and "Kartu SIM" not in english


def test_failure_words_for_every_kind_and_for_older_rows(app: Flask) -> None:
    """Every kind a sender gives has its words; a row that failed before the kinds were kept is told from its
    raw text; a known ``+CMS ERROR`` code says what it means."""
    from sync.central.backoffice import labels
    from sync.central.sms import senders

    assert set(senders.KINDS) == set(labels.SMS_FAILURES)
    assert labels.sms_kind(None, worker.INTERRUPTED) == "interrupted"
    assert labels.sms_kind(None, "the SMS gateway answered HTTP 503") == "gateway-refused"
    assert labels.sms_kind(None, "the modem refused the message: +CMS ERROR: 331 (no network)") == "network"
    assert labels.sms_kind(None, "something new") == "other"
    with app.test_request_context():
        said = labels.sms_failure("network", "the modem refused the message: +CMS ERROR: 331")
        assert said.endswith("Kode 331: tidak ada layanan jaringan (sinyal).")


@pytest.mark.parametrize(
    ("sms", "public", "telepon", "shown"),
    [(True, {}, PHONE, "Warga meminta SMS ke +62812*****890"),
     (None, {}, PHONE, "Warga tidak meminta SMS"),
     (True, {}, "024 3551234", "SMS tidak mungkin: nomornya bukan nomor HP"),
     (True, {"anonim": True}, PHONE, "SMS tidak mungkin: pengaduan anonim")],
    ids=["asked", "not-asked", "landline", "anonymous"],
)  # fmt: skip
def test_the_case_page_shows_the_sms_choice_from_the_start(
    app: Flask,
    gateway: Gateway,
    ppid: FlaskClient,
    sms: Any,
    public: dict[str, Any],
    telepon: str,
    shown: str,
) -> None:
    """From the moment the submission arrives (no step taken, nothing queued) the case page says whether the
    citizen asked for SMS, to which masked number, or why none is possible; then each SMS with its state."""
    record = opted_in(1, "complaint", 1, sms=sms, **public)
    if record["personal"] is not None:
        record["personal"]["telepon"] = telepon
    gateway.send("submissions", [record])
    page = ppid.get(f"/berkas/dmk-wonosalam/{number(1)}").get_data(as_text=True)
    assert shown in page and rows(app) == [] and PHONE not in page and PHONE[1:] not in page
    if sms and not public and telepon == PHONE:
        assert step(ppid, number(1), "verifikasi").status_code == 302
        assert step(ppid, number(1), "tunda", text="Menunggu foto lokasi").status_code == 302
        modem = Modem()  # the network refuses it: a failure of that message, told on the case page
        try:
            modem.fail_next = 1
            send(app, ModemSender(modem.path, timeout_s=10), cfg(sms_modem_port=modem.path), AT)
        finally:
            modem.close()
        page = ppid.get(f"/berkas/dmk-wonosalam/{number(1)}").get_data(as_text=True)
        assert "ditunda:" in page and "Kartu SIM atau jaringan operator menolak" in page and shown in page
        assert ppid.get("/bahasa/en?next=/").status_code == 302
        english = ppid.get(f"/berkas/dmk-wonosalam/{number(1)}").get_data(as_text=True)
        assert "The citizen asked for SMS to +62812*****890" in english
