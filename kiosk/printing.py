"""Receipt slips on an ESC/POS printer (python-escpos).

The printer comes from ``[kiosk] printer``: ``""`` (none), ``file:/dev/usb/lp0`` (a USB printer, through the
kernel's ``usblp`` driver: every USB receipt printer of the printer class appears as ``/dev/usb/lp<N>``),
``serial:/dev/ttyUSB0``, ``network:host`` or ``network:host:port``. A slip never carries personal data: the
office, the kind, the registration number, the dates, the status URL and its QR code.

``usb:VID:PID`` (python-escpos through libusb) is refused with the ``file:`` form to use instead: it needs
pyusb, a udev rule for the device and the kernel driver detached, and could not print on a kiosk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from gateway.printerspec import PrinterError, PrinterTarget, parse_printer

# PrinterError and parse_printer are the setting's (gateway/printerspec.py), named here for the kiosk's views
__all__ = ["PrinterError", "PrinterTarget", "Slip", "open_printer", "parse_printer", "print_slip", "render"]

log = logging.getLogger(__name__)

SLIP_WIDTH = 32  # characters per line of font A on a 58 mm printer


@dataclass(frozen=True)
class Slip:
    office: str
    title: str  # e.g. "TANDA TERIMA PERMOHONAN INFORMASI"
    number: str
    received: datetime
    due: date | None
    status_url: str  # what the QR encodes: the status URL with the number only (or the number alone)
    lines: tuple[str, ...] = ()  # extra short, non-personal lines (e.g. "Simpan tanda terima ini.")


def open_printer(spec: str) -> Any:
    """An escpos printer for a ``[kiosk] printer`` value (see :func:`parse_printer`); raises PrinterError for a
    bad spec or a network printer that cannot be reached."""
    from escpos import printer

    target = parse_printer(spec)
    if target.kind == "usb":
        return printer.Usb(target.vendor, target.product)
    if target.kind == "serial":
        return printer.Serial(target.device)
    if target.kind == "network":
        return _network(printer.Network(target.host, target.port, timeout=10))
    return printer.File(target.device)


def _network(p: Any) -> Any:
    """Connect a Network printer ourselves: escpos leaks its socket when the connection is refused."""
    import socket

    try:
        p.device = socket.create_connection((p.host, p.port), timeout=p.timeout)
    except OSError as err:
        raise PrinterError(f"printer {p.host}:{p.port} is not reachable: {err.strerror or err}") from err
    return p


def _wrap(text: str, width: int = SLIP_WIDTH) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


def render(p: Any, slip: Slip) -> None:
    """Write ``slip`` to the escpos printer ``p`` (a Dummy in tests)."""
    width = p.profile.profile_data.setdefault("media", {}).setdefault("width", {})
    if width.get("pixels", "Unknown") == "Unknown":  # generic profile: assume a 58 mm head (384 dots)
        width["pixels"] = 384
    p.set(align="center", bold=True)
    for line in _wrap(slip.office):
        p.textln(line)
    p.set(align="center", bold=False)
    for line in _wrap(slip.title):
        p.textln(line)
    p.textln("-" * SLIP_WIDTH)
    p.textln("No. Pendaftaran:")
    p.set(align="center", bold=True, double_height=True, double_width=len(slip.number) <= SLIP_WIDTH // 2)
    p.textln(slip.number)
    p.set(align="left", bold=False, normal_textsize=True)
    p.textln(f"Diterima : {slip.received:%d-%m-%Y %H:%M}")
    if slip.due is not None:
        p.textln(f"Batas    : {slip.due:%d-%m-%Y}")
    for extra in slip.lines:
        for line in _wrap(extra):
            p.textln(line)
    p.textln("-" * SLIP_WIDTH)
    p.set(align="center")
    p.textln("Cek status:")
    for line in _wrap(slip.status_url.replace("/", "/ ")):
        p.textln(line.replace("/ ", "/"))
    p.qr(slip.status_url, size=6, center=True)
    p.cut()


def print_slip(spec_or_printer: str | Any, slip: Slip) -> None:
    """Print ``slip`` on the configured printer (a spec string or an escpos printer object)."""
    p = open_printer(spec_or_printer) if isinstance(spec_or_printer, str) else spec_or_printer
    try:
        render(p, slip)
    except PrinterError:
        raise
    except Exception as err:  # escpos raises its own errors, OSError and USB errors
        raise PrinterError(f"printing failed: {type(err).__name__}: {err}") from err
    finally:
        close = getattr(p, "close", None)
        if close is not None and p is not spec_or_printer:
            try:
                close()
            except Exception:  # a printer that failed to open may fail to close, too
                log.debug("closing the printer failed", exc_info=True)
