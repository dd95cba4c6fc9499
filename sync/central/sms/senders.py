"""The two ways an SMS leaves the central: a GSM modem on a serial port (AT commands in text mode, 3GPP TS
27.005) and an SMS gateway's HTTP API (one JSON POST per message).

A sender's ``send(phone, text, key)`` answers the reference of the sent message (the modem's ``+CMGS``
reference, the gateway's answer) or raises :class:`SendError` (that message failed), :class:`ChannelError` (the
channel itself failed: no message's fault) or :class:`PortBusy` (another worker holds the modem). Errors never
hold the phone number: what a gateway or modem says is scrubbed (:func:`sync.central.sms.queue.scrub`) before it
is cut to a length, the worker scrubs again, and these texts are made without it.
"""

from __future__ import annotations

import errno
import json
import re
import time
from typing import Any, Protocol

import requests
import serial
import urllib3.exceptions

from sync.central.sms.queue import scrub
from sync.central.sms.settings import SmsSettings

CTRL_Z = b"\x1a"
ESC = b"\x1b"  # cancels a message being typed after the ">" prompt (3GPP TS 27.005, 3.5.1)
_FINAL = re.compile(rb"\r\n(OK|ERROR|\+CMS ERROR: ?\d+|\+CME ERROR: ?[^\r\n]+)\r\n")
_ERROR = re.compile(rb"\r\n(ERROR|\+CMS ERROR: ?\d+|\+CME ERROR: ?[^\r\n]+)\r\n")
_PROMPT_OR_ERROR = re.compile(rb">|\r\n(ERROR|\+CMS ERROR: ?\d+|\+CME ERROR: ?[^\r\n]+)\r\n")
_REFERENCE = re.compile(rb"\+CMGS: ?(\d+)")
_CMS_CODE = re.compile(r"\+CMS ERROR: ?(\d+)")
# what the common "+CMS ERROR: <n>" codes mean, for the officer (3GPP TS 27.005, 3.2.5)
CMS_ERRORS: dict[int, str] = {
    300: "ME failure", 301: "SMS service of ME reserved", 302: "operation not allowed",
    303: "operation not supported", 304: "invalid PDU mode parameter", 305: "invalid text mode parameter",
    310: "SIM not inserted", 311: "SIM PIN required", 312: "PH-SIM PIN required", 313: "SIM failure",
    314: "SIM busy", 315: "SIM wrong", 320: "memory failure", 322: "memory full", 330: "SMSC address unknown",
    331: "no network service", 332: "network timeout", 500: "unknown error",
}  # fmt: skip


# the kinds of failure (``SendError.kind``, kept in ``sms_outbox.error_kind``): the back office tells each in
# the officer's language (sync/central/backoffice/smswords.py) beside the raw text
PORT = "port"  # the modem's port cannot be opened (no modem, wrong path, another program holds it)
MODEM_SILENT = "modem-silent"  # the modem did not answer a command, or gave no ">" prompt, in time
MODEM_REFUSED = "modem-refused"  # the modem answered ERROR / +CME ERROR
NETWORK = "network"  # +CMS ERROR <n>: the SIM or the network refused the message
GATEWAY_UNREACHABLE = "gateway-unreachable"  # connection refused or timed out, DNS: the request never left
GATEWAY_REFUSED = "gateway-refused"  # the SMS gateway answered that it did not take the message
MAYBE_SENT = "maybe-sent"  # handed over, never confirmed (late modem answer, HTTP read timeout or cut)
INTERRUPTED = "interrupted"  # the worker stopped between the claim and the result
CAPPED = "capped"  # the number's daily cap is reached: waits for the next day
NO_NUMBER = "no-number"  # the submission holds no number any more (purged)
OTHER = "other"  # any other failure of a sender
KINDS = (PORT, MODEM_SILENT, MODEM_REFUSED, NETWORK, GATEWAY_UNREACHABLE, GATEWAY_REFUSED, MAYBE_SENT,
         INTERRUPTED, CAPPED, NO_NUMBER, OTHER)  # fmt: skip


class SendError(Exception):
    """One SMS could not be sent, known not to have gone out (it is tried again later, with backoff). The text
    never holds the number; ``kind`` is one of :data:`KINDS` (what the officer is told)."""

    def __init__(self, text: str, kind: str = OTHER):
        super().__init__(text)
        self.kind = kind


class MaybeSent(SendError):
    """The message was handed over (the modem got its text and Ctrl-Z; the HTTP request was sent) but its
    confirmation never came: it may have gone out. Never sent again by itself: the worker lists it for an
    officer, like an interrupted send, and counts it toward the number's daily cap."""

    def __init__(self, text: str):
        super().__init__(text, MAYBE_SENT)


class ChannelError(SendError):
    """The channel failed, not a message: the modem's port cannot be opened, the modem does not answer ``AT`` or
    ``AT+CMGF=1``, the HTTP gateway cannot be connected to (refused, DNS). Nothing was sent; the worker stops
    the round and backs off as a whole, and the messages keep their attempts (docs/sms.md)."""


class PortBusy(ChannelError):
    """Another worker holds the modem's port (opened exclusively): this round waits, no attempt is used."""


class Sender(Protocol):
    def send(self, phone: str, text: str, key: str) -> str: ...

    def close(self) -> None: ...


def modem_error(final: bytes) -> str:
    """A modem's final error answer as the officer reads it: ``+CMS ERROR: 304 (invalid PDU mode
    parameter)``, ``ERROR``, ``+CME ERROR: ...``."""
    said = final.decode(errors="replace").strip()
    code = _CMS_CODE.fullmatch(said)
    if code and int(code.group(1)) in CMS_ERRORS:
        return f"{said} ({CMS_ERRORS[int(code.group(1))]})"
    return said


def refusal_kind(final: bytes) -> str:
    """The kind of a modem's final error answer: :data:`NETWORK` for ``+CMS ERROR: <n>`` (the SIM or the
    network refused, 3GPP TS 27.005, 3.2.5), :data:`MODEM_REFUSED` for ``ERROR`` and ``+CME ERROR``."""
    return NETWORK if final.startswith(b"+CMS ERROR") else MODEM_REFUSED


def before_sending(err: requests.RequestException) -> bool:
    """Whether an HTTP failure is known to have happened before any byte of the request left: the connection
    could not be made (refused, timed out connecting, a name that does not resolve: urllib3's
    NewConnectionError, NameResolutionError included) or the URL is unusable. Anything else (a read timeout,
    the connection cut while waiting for the answer, a broken answer) happened after the request may have
    reached the gateway, which may have sent the SMS."""
    if isinstance(err, requests.ConnectTimeout | requests.exceptions.InvalidURL
                  | requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema):  # fmt: skip
        return True
    if isinstance(err, requests.Timeout):  # a read timeout: the request was sent
        return False
    seen: BaseException | None = err
    for _ in range(8):  # requests wraps urllib3's MaxRetryError, whose reason is the connection's error
        if seen is None:
            return False
        if isinstance(seen, urllib3.exceptions.NewConnectionError):
            return True
        reason = getattr(seen, "reason", None)
        nested = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = reason if isinstance(reason, BaseException) else nested or seen.__cause__ or seen.__context__
    return False


class ModemSender:
    """A GSM modem driven by AT commands over a serial port (pyserial): ``AT``, ``AT+CMGF=1`` (text mode), then
    ``AT+CMGS="<number>"``, the text after the ``>`` prompt and Ctrl-Z; the modem answers ``+CMGS: <ref>`` and
    ``OK``, or ``ERROR`` / ``+CMS ERROR: <n>``. The port is opened for each round of the worker and closed
    after it (another program may use the modem between rounds).

    Faults (docs/sms.md, "What the worker does when the modem misbehaves"): an error answer to ``AT+CMGS``
    fails the message at once, with the modem's code; no ``>`` prompt within ``timeout_s``: ESC cancels the
    message the modem may still be waiting for, the port is drained, and ``AT`` must answer ``OK`` before
    another message is tried; no confirmation within ``timeout_s`` once the text and Ctrl-Z were written:
    :class:`MaybeSent` (never tried again by itself). The port is opened exclusively (pyserial's
    ``exclusive=True``: a ``flock`` on the device), so two workers never talk to the modem at once: held by
    another, :class:`PortBusy`; a port that cannot be opened, or a modem that does not answer ``AT`` /
    ``AT+CMGF=1``, :class:`ChannelError`."""

    def __init__(self, port: str, baud: int = 115200, timeout_s: float = 30.0):
        self.port, self.baud, self.timeout_s = port, baud, timeout_s
        self._serial: Any = None

    def _open(self) -> Any:
        if self._serial is None:
            try:
                # exclusive: a flock on the device, so that two workers never talk to the modem at once
                self._serial = serial.Serial(self.port, self.baud, timeout=0.2, write_timeout=self.timeout_s,
                                             exclusive=True)  # fmt: skip
            except (serial.SerialException, OSError) as err:
                if err.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    raise PortBusy(f"the modem's port {self.port} is held by another SMS worker") from None
                raise ChannelError(f"the modem's port {self.port} cannot be opened: {err}", PORT) from None
            try:
                self._drain()  # a late answer to the last round's message
                self._command(b"AT\r", "AT")
                self._command(b"AT+CMGF=1\r", "AT+CMGF=1")
            except (SendError, serial.SerialException, OSError) as err:
                self.close()
                if isinstance(err, SendError):
                    raise ChannelError(str(err), err.kind) from None
                raise ChannelError(
                    f"the modem's port {self.port} failed: {type(err).__name__}", PORT
                ) from None
        return self._serial

    def _read_until(self, pattern: re.Pattern[bytes], what: str) -> bytes:
        port, seen = self._serial, b""
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            seen += port.read(port.in_waiting or 1)
            if pattern.search(seen):
                return seen
        raise SendError(f"the modem did not answer {what} within {self.timeout_s:g} s", MODEM_SILENT)

    def _command(self, line: bytes, what: str) -> bytes:
        self._serial.reset_input_buffer()
        self._serial.write(line)
        answer = self._read_until(_FINAL, what)
        final = _FINAL.search(answer)
        assert final is not None
        if final.group(1) != b"OK":
            raise SendError(f"the modem answered {what} with {modem_error(final.group(1))}",
                            refusal_kind(final.group(1)))  # fmt: skip
        return answer

    def _drain(self) -> None:
        """Read and drop what the modem still says, until it is quiet for one read (0.2 s) or ``timeout_s``."""
        port = self._serial
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline and port.read(port.in_waiting or 1):
            pass

    def _cancel(self) -> None:
        """After no ``>`` prompt: ESC (the modem may be waiting for a text and would swallow the next
        commands), drain, and check the modem answers ``AT``; SendError when it does not."""
        self._serial.write(ESC)
        self._drain()
        self._command(b"AT\r", "AT after cancelling a message")

    def send(self, phone: str, text: str, key: str) -> str:
        """Send ``text`` (GSM-7, at most 160 characters) to ``phone`` (+62...); answer the ``+CMGS`` reference.

        Raises SendError when the message did not go out (the modem refused it, with its code, or gave no
        prompt), ChannelError when the port failed before the text was handed over (the message keeps its
        attempt), MaybeSent when it was handed over but not confirmed."""
        handed_over = False
        try:
            port = self._open()
            port.reset_input_buffer()
            port.write(f'AT+CMGS="{phone}"\r'.encode())
            try:
                prompt = self._read_until(_PROMPT_OR_ERROR, "AT+CMGS")
            except SendError:
                self._cancel()
                raise SendError(
                    f"the modem gave no '>' prompt within {self.timeout_s:g} s (cancelled)", MODEM_SILENT
                ) from None
            refused = _ERROR.search(prompt)
            if refused and b">" not in prompt[: refused.start()]:
                raise SendError(f"the modem refused the number: {modem_error(refused.group(1))}",
                                refusal_kind(refused.group(1)))  # fmt: skip
            port.write(text.encode("ascii") + CTRL_Z)
            handed_over = True
            answer = self._read_until(_FINAL, "the message")
        except (serial.SerialException, OSError) as err:
            self.close()
            if handed_over:
                raise MaybeSent(
                    f"may have been sent: the modem's port failed after the text ({type(err).__name__})"
                ) from None
            # nothing was handed over: the channel failed (a modem unplugged mid-round), not this message
            raise ChannelError(f"the modem's port failed: {type(err).__name__}", PORT) from None
        except SendError as err:
            self.close()
            if handed_over:
                raise MaybeSent(f"may have been sent: {err}, after the text and Ctrl-Z") from None
            raise
        final = _FINAL.search(answer)
        assert final is not None
        if final.group(1) != b"OK":
            raise SendError(f"the modem refused the message: {modem_error(final.group(1))}",
                            refusal_kind(final.group(1)))  # fmt: skip
        reference = _REFERENCE.search(answer)
        return reference.group(1).decode() if reference else ""

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            finally:
                self._serial = None


class HttpSender:
    """An SMS gateway's HTTP API: one POST per message with the JSON body of ``sms_http_body`` (its string
    values' ``{to}``, ``{text}``, ``{key}`` and ``{token}`` replaced), ``Authorization: Bearer <token>`` when a
    token is set. A 2xx answer is a success when ``ok_field`` is empty; otherwise the answer must also be a JSON
    object whose field ``ok_field`` (dots name nested fields: ``data.status``) holds ``ok_value`` (compared as
    text: ``true``, ``1``, ``success``), and any other 2xx answer is a failure (retried). The body (scrubbed of
    numbers, then cut to 64 characters) is the reference.

    Sent once (docs/sms.md, "Sent once over HTTP too"): a connection that cannot be made (refused, timed out connecting, a name
    that does not resolve: :func:`before_sending`) is :class:`ChannelError` (nothing was sent; the round backs
    off as a whole); or an answer that says the message was not taken is a :class:`SendError` (retried
    with backoff); once the request was sent and no answer came (read timeout, the connection cut) it is
    :class:`MaybeSent`: most gateways ignore ``Idempotency-Key``, so it is never sent again by itself. Each
    request goes on a connection of its own (``Connection: close``), so a kept-alive connection the gateway
    closed never turns a message that never left into one that may have been sent."""

    def __init__(self, url: str, token: str, body: str, timeout_s: float = 30.0, ok_field: str = "",
                 ok_value: str = ""):  # fmt: skip
        self.url, self.token, self.template, self.timeout_s = url, token, json.loads(body), timeout_s
        self.ok_field, self.ok_value = ok_field, ok_value
        self._session = requests.Session()

    def succeeded(self, body: str) -> bool:
        """Whether a 2xx answer's ``body`` says the message was taken (always True without ``ok_field``)."""
        if not self.ok_field:
            return True
        try:
            value: Any = json.loads(body)
        except ValueError:
            return False
        for name in self.ok_field.split("."):
            if not isinstance(value, dict) or name not in value:
                return False
            value = value[name]
        if isinstance(value, bool):
            value = "true" if value else "false"
        return isinstance(value, str | int | float) and str(value) == self.ok_value

    def body(self, phone: str, text: str, key: str) -> Any:
        """The JSON document posted for one message."""
        words = {"{to}": phone, "{text}": text, "{key}": key, "{token}": self.token}

        def fill(value: Any) -> Any:
            if isinstance(value, str):
                for name, word in words.items():
                    value = value.replace(name, word)
                return value
            if isinstance(value, list):
                return [fill(v) for v in value]
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            return value

        return fill(self.template)

    def send(self, phone: str, text: str, key: str) -> str:
        """POST one message; answer the gateway's answer (cut to 64 characters). Raises SendError (known not
        sent: retried) or MaybeSent (the request went out, no answer came: never repeated by itself)."""
        headers = {"Content-Type": "application/json", "Idempotency-Key": key, "Connection": "close"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(self.body(phone, text, key), ensure_ascii=False).encode()
        try:
            answer = self._session.post(self.url, data=data, headers=headers, timeout=self.timeout_s)
        except requests.RequestException as err:
            if before_sending(err):
                raise ChannelError(f"the SMS gateway cannot be reached: {type(err).__name__}",
                                   GATEWAY_UNREACHABLE) from None  # fmt: skip
            raise MaybeSent(f"may have been sent: the SMS gateway took the request but gave no answer "
                            f"({type(err).__name__})") from None  # fmt: skip
        if not 200 <= answer.status_code < 300:
            said = self.hide(answer.text.strip())[:120]
            raise SendError(f"the SMS gateway answered HTTP {answer.status_code}" + (f": {said}" if said else ""),
                            GATEWAY_REFUSED)  # fmt: skip
        if not self.succeeded(answer.text):
            said = self.hide(answer.text.strip())[:120]
            raise SendError(f"the SMS gateway answered HTTP {answer.status_code} without {self.ok_field}="
                            f"{self.ok_value}: {said}", GATEWAY_REFUSED)  # fmt: skip
        return self.hide(answer.text.strip())[:64]

    def hide(self, said: str) -> str:
        """What the gateway said, fit to keep and show: every number scrubbed (:func:`scrub`) and the gateway's
        token (which a gateway may echo, e.g. "bad key <token>") replaced by ``[token]``; before any cut, so that
        no part of either survives at an edge."""
        if self.token:
            said = said.replace(self.token, "[token]")
        return scrub(said)

    def close(self) -> None:
        self._session.close()


def make_sender(cfg: SmsSettings) -> Sender | None:
    """The sender ``cfg`` configures (None when ``sms_sender`` is empty)."""
    if cfg.sms_sender == "modem":
        return ModemSender(cfg.sms_modem_port, cfg.sms_modem_baud, cfg.sms_modem_timeout_s)
    if cfg.sms_sender == "http":
        return HttpSender(cfg.sms_http_url, cfg.sms_http_token, cfg.sms_http_body,
                          ok_field=cfg.sms_http_ok_field, ok_value=cfg.sms_http_ok_value)  # fmt: skip
    return None
