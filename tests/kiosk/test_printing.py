from datetime import date, datetime

import pytest
from escpos.printer import Dummy

from kiosk.printing import PrinterError, Slip, open_printer, print_slip

SLIP = Slip("Kecamatan Wonosalam", "TANDA TERIMA PERMOHONAN INFORMASI", "TEST-KIOSK-250203-00017",
            datetime(2025, 2, 3, 9, 30), date(2025, 2, 17), "https://ppid.demakkab.go.id/status/TEST-KIOSK-250203-00017",
            ("Simpan tanda terima ini.",))  # fmt: skip


def test_slip_bytes() -> None:
    printer = Dummy()
    print_slip(printer, SLIP)
    out = printer.output
    assert out.startswith(b"\x1b")  # ESC/POS commands, not plain text
    assert b"Kecamatan Wonosalam" in out
    assert b"TEST-KIOSK-250203-00017" in out
    assert b"\x1b!\x30" in out or b"\x1d!\x11" in out or b"\x1b!" in out  # double size for the number
    assert b"Diterima : 03-02-2025 09:30" in out
    assert b"Batas    : 17-02-2025" in out
    assert b"\x1dV" in out  # cut
    assert b"\x1dv0" in out  # the QR code as a raster image


def test_wrapping_keeps_lines_short() -> None:
    printer = Dummy()
    print_slip(printer, SLIP)
    text_lines = [line for line in printer.output.split(b"\n") if b"\x1d" not in line and b"\x1b" not in line]
    assert all(len(line) <= 32 for line in text_lines)


@pytest.mark.parametrize("spec", ["bogus", "usb:zz:01", "network:"])
def test_bad_printer_specs(spec: str) -> None:
    with pytest.raises(PrinterError):
        printer = open_printer(spec)
        print_slip(printer, SLIP)


def test_a_usb_spec_is_refused_with_the_form_that_prints() -> None:
    """usb:VID:PID failed only when printing ("requires a usb library"); the kernel's usblp device prints."""
    with pytest.raises(
        PrinterError, match=r"usb: form is not supported; a USB receipt printer is file:/dev/usb/lp0"
    ):
        open_printer("usb:0416:5011")


def test_file_printer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "lp0"
    print_slip(f"file:{target}", SLIP)
    assert b"TEST-KIOSK-250203-00017" in target.read_bytes()


def test_unreachable_network_printer_is_a_printer_error() -> None:
    with pytest.raises(PrinterError):
        print_slip("network:127.0.0.1:9", SLIP)
