"""The two ways an SMS leaves the central: a GSM modem on a serial port (AT commands in text mode, 3GPP TS
27.005) and an SMS gateway's HTTP API (one JSON POST per message).

A sender's ``send(phone, text, key)`` answers the reference of the sent message (the modem's ``+CMGS``
reference, the gateway's answer) or raises :class:`SendError`. Errors never hold the phone number: the worker
scrubs them too (:func:`sync.central.sms.queue.scrub`), and these texts are made without it.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Protocol

import requests
import serial

from sync.central.sms.settings import SmsSettings

CTRL_Z = b"\x1a"
_FINAL = re.compile(rb"\r\n(OK|ERROR|\+CMS ERROR: ?\d+|\+CME ERROR: ?[^\r\n]+)\r\n")
_REFERENCE = re.compile(rb"\+CMGS: ?(\d+)")


class SendError(Exception):
    """One SMS could not be sent (it is tried again later, with backoff). The text never holds the number."""


class Sender(Protocol):
    def send(self, phone: str, text: str, key: str) -> str: ...

    def close(self) -> None: ...


class ModemSender:
    """A GSM modem driven by AT commands over a serial port (pyserial): ``AT``, ``AT+CMGF=1`` (text mode), then
    ``AT+CMGS="<number>"``, the text after the ``>`` prompt and Ctrl-Z; the modem answers ``+CMGS: <ref>`` and
    ``OK``, or ``ERROR`` / ``+CMS ERROR: <n>``. The port is opened for each round of the worker and closed
    after it (another program may use the modem between rounds)."""

    def __init__(self, port: str, baud: int = 115200, timeout_s: float = 30.0):
        self.port, self.baud, self.timeout_s = port, baud, timeout_s
        self._serial: Any = None

    def _open(self) -> Any:
        if self._serial is None:
            try:
                self._serial = serial.Serial(self.port, self.baud, timeout=0.2, write_timeout=self.timeout_s)
            except (serial.SerialException, OSError) as err:
                raise SendError(f"the modem's port {self.port} cannot be opened: {err}") from None
            self._command(b"AT\r", "AT")
            self._command(b"AT+CMGF=1\r", "AT+CMGF=1")
        return self._serial

    def _read_until(self, pattern: re.Pattern[bytes], what: str) -> bytes:
        port, seen = self._serial, b""
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            seen += port.read(port.in_waiting or 1)
            if pattern.search(seen):
                return seen
        raise SendError(f"the modem did not answer {what} within {self.timeout_s:g} s")

    def _command(self, line: bytes, what: str) -> bytes:
        self._serial.reset_input_buffer()
        self._serial.write(line)
        answer = self._read_until(_FINAL, what)
        final = _FINAL.search(answer)
        assert final is not None
        if final.group(1) != b"OK":
            raise SendError(f"the modem answered {what} with {final.group(1).decode(errors='replace')}")
        return answer

    def send(self, phone: str, text: str, key: str) -> str:
        """Send ``text`` (GSM-7, at most 160 characters) to ``phone`` (+62...); answer the ``+CMGS`` reference."""
        try:
            port = self._open()
            port.reset_input_buffer()
            port.write(f'AT+CMGS="{phone}"\r'.encode())
            self._read_until(re.compile(rb">"), "AT+CMGS")
            port.write(text.encode("ascii") + CTRL_Z)
            answer = self._read_until(_FINAL, "the message")
        except (serial.SerialException, OSError) as err:
            self.close()
            raise SendError(f"the modem's port failed: {type(err).__name__}") from None
        except SendError:
            self.close()
            raise
        final = _FINAL.search(answer)
        assert final is not None
        if final.group(1) != b"OK":
            raise SendError(f"the modem refused the message: {final.group(1).decode(errors='replace')}")
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
    token is set; any 2xx answer is a success, its body (cut to 64 characters) the reference."""

    def __init__(self, url: str, token: str, body: str, timeout_s: float = 30.0):
        self.url, self.token, self.template, self.timeout_s = url, token, json.loads(body), timeout_s
        self._session = requests.Session()

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
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(self.body(phone, text, key), ensure_ascii=False).encode()
        try:
            answer = self._session.post(self.url, data=data, headers=headers, timeout=self.timeout_s)
        except requests.RequestException as err:
            raise SendError(f"the SMS gateway cannot be reached: {type(err).__name__}") from None
        if not 200 <= answer.status_code < 300:
            raise SendError(f"the SMS gateway answered HTTP {answer.status_code}")
        return answer.text.strip()[:64]

    def close(self) -> None:
        self._session.close()


def make_sender(cfg: SmsSettings) -> Sender | None:
    """The sender ``cfg`` configures (None when ``sms_sender`` is empty)."""
    if cfg.sms_sender == "modem":
        return ModemSender(cfg.sms_modem_port, cfg.sms_modem_baud, cfg.sms_modem_timeout_s)
    if cfg.sms_sender == "http":
        return HttpSender(cfg.sms_http_url, cfg.sms_http_token, cfg.sms_http_body)
    return None
