"""The ``[kiosk] printer`` setting taken apart: which receipt printer it names (or why it names none usable).

``""`` (none), ``file:/dev/usb/lp0`` (a USB printer, through the kernel's ``usblp`` driver), ``serial:DEV``,
``network:HOST`` or ``network:HOST:PORT``. ``usb:VID:PID`` (python-escpos through libusb) is refused with the
``file:`` form to use instead. The kiosk opens its printer by this (kiosk/printing.py) and ``anjungan doctor``
checks the setting by it, so both read the setting the same way. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import AnjunganError

USB_REFUSED = (
    "printer setting {spec!r}: the usb: form is not supported; a USB receipt printer is file:/dev/usb/lp0 "
    "(the kernel's usblp driver; `ls /dev/usb/` after plugging it in)"
)


class PrinterError(AnjunganError):
    """The receipt printer is not configured, not reachable or failed while printing."""


@dataclass(frozen=True)
class PrinterTarget:
    """A ``[kiosk] printer`` value taken apart: ``kind`` is ``usb`` (``vendor``, ``product``: the USB ids),
    ``serial`` or ``file`` (``device``: a path), or ``network`` (``host``, ``port``)."""

    kind: str
    device: str = ""
    host: str = ""
    port: int = 9100
    vendor: int = 0
    product: int = 0


def parse_printer(spec: str) -> PrinterTarget:
    """The printer that ``spec`` (a ``[kiosk] printer`` value) names: ``usb:VID:PID`` (hex, ``0x`` allowed),
    ``serial:DEV`` (default /dev/ttyUSB0), ``network:HOST[:PORT]`` (an IPv6 address in brackets with a port:
    ``network:[::1]:9100``; port 9100 when none), ``file:PATH``. The kiosk opens the printer by it and
    ``anjungan doctor`` checks it by it. Raises PrinterError saying what is wrong.
    """
    kind, _, rest = spec.partition(":")
    if kind == "usb":
        raise PrinterError(USB_REFUSED.format(spec=spec))
    try:
        if kind == "serial":
            return PrinterTarget("serial", device=rest or "/dev/ttyUSB0")
        if kind == "network":
            host, port = _host_port(rest)
            return PrinterTarget("network", host=host, port=port)
        if kind == "file":
            if not rest:
                raise ValueError("no path (e.g. file:/dev/usb/lp0)")
            return PrinterTarget("file", device=rest)
    except ValueError as err:
        raise PrinterError(f"printer setting {spec!r} is not valid: {err}") from err
    raise PrinterError(f"printer setting {spec!r}: use file:/dev/usb/lp0, serial:DEV or network:HOST[:PORT]")


def _usb_id(text: str, what: str) -> int:
    value = int(text, 16)  # ValueError for what is not hex ("0x" is allowed)
    if not 0 < value <= 0xFFFF:
        raise ValueError(f"the {what} id {text!r} is not a USB id (1 to ffff)")
    return value


def _host_port(text: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or a bare IPv6 address; ValueError when there is no host or the
    port is not a number from 1 to 65535."""
    if text.startswith("["):
        host, bracket, tail = text[1:].partition("]")
        if not bracket:
            raise ValueError(f"{text!r}: the [address] has no closing ]")
        if tail and not tail.startswith(":"):
            raise ValueError(f"{text!r}: after [address] only :PORT may follow")
        port = tail[1:]
    elif text.count(":") > 1:
        host, port = text, ""  # a bare IPv6 address; a port needs the brackets
    else:
        host, _, port = text.partition(":")
    if not host:
        raise ValueError("no host")
    if not port:
        return host, 9100
    if not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"the port {port!r} is not a number from 1 to 65535")
    return host, int(port)
