"""The PPID's service report: figures from real steps, as a page with charts, as CSV and as a PDF."""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import date

import pypdfium2
from flask import Flask

from gateway import regno
from tests.central.conftest import Clock, Gateway
from tests.central.officers import FULL_ANSWER, citizen, logged_in
from tests.central.test_backoffice_cases import AT, DAY, step


def test_month_report_page_csv_and_pdf(app: Flask, gateway: Gateway, clock: Clock) -> None:
    numbers = [regno.make("dmk-wonosalam", date(2026, 11, 23), i) for i in range(1, 6)]
    records = [citizen(1, "request", numbers[0], AT), citizen(2, "request", numbers[1], AT),
               citizen(3, "request", numbers[2], AT), citizen(4, "complaint", numbers[3], AT, kategori="banjir"),
               citizen(5, "objection", numbers[4], AT, nomor_permohonan=numbers[1])]  # fmt: skip
    gateway.send("submissions", records)
    app.config["BACKOFFICE_IDLE_SECONDS"] = 90 * DAY
    ppid, atasan = logged_in(app, "ppid1", "ppid"), logged_in(app, "atasan1", "atasan")
    ppid.get("/kotak-masuk")
    full = dict(FULL_ANSWER)
    refused = {**full, "decision": "ditolak", "exemption": "h", "consequence": "Data pribadi warga."}
    for number in numbers[:3]:
        step(ppid, number, "verifikasi")
    clock.now += 3 * DAY  # Thursday 26th: 3 working days after receipt
    step(ppid, numbers[0], "jawab", **full)
    step(ppid, numbers[1], "jawab", **refused)
    clock.now += 14 * DAY  # Thursday 10 December: past the 10 working days (7 December)
    step(ppid, numbers[2], "jawab", **full)
    step(atasan, numbers[4], "putus", decision="ditolak", text="Pengecualian sah.")
    step(ppid, numbers[3], "verifikasi")

    page = ppid.get("/laporan?tahun=2026&bulan=11").get_data(as_text=True)
    assert (
        "2026-11-01 – 2026-11-30" in page and page.count("data:image/svg+xml;base64,") == 4
    )  # and the SKM trend
    rows = {(r["section"], r["item"]): r["value"] for r in csv.DictReader(io.StringIO(
        ppid.get("/laporan.csv?tahun=2026&bulan=11").get_data(as_text=True)))}  # fmt: skip
    assert rows[("requests", "received")] == "3" and rows[("requests", "on_time")] == "2"
    assert rows[("requests", "late")] == "1" and rows[("decisions", "ditolak")] == "1"
    assert rows[("exemptions", "Ps. 17 h")] == "1" and rows[("objections", "ditolak")] == "1"
    assert rows[("complaints", "banjir/diverifikasi")] == "1"
    assert rows[("requests", "average_working_days_to_answer")] == "6.3"  # (3 + 3 + 13) / 3
    assert ppid.get("/laporan.csv?tahun=2025").get_data(as_text=True).split("requests,received,")[1][0] == "0"

    answer = ppid.get("/laporan.pdf?tahun=2026&bulan=11")
    assert answer.mimetype == "application/pdf" and answer.data.startswith(b"%PDF")
    document = pypdfium2.PdfDocument(answer.data)
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    document.close()
    assert "Laporan layanan informasi publik" in text and "Dijawab terlambat" in text
    assert logged_in(app, "pel1", "pelaksana", "dinkes").get("/laporan").status_code == 403


def test_zero_days_average_and_indonesian_words_everywhere(app: Flask, gateway: Gateway) -> None:
    number = "DMK-WONOSALAM-261123-00016"
    gateway.send("submissions", [citizen(1, "request", number, AT),
                                 citizen(2, "objection", "DMK-WONOSALAM-261123-00034", AT, nomor_permohonan=number)])  # fmt: skip
    ppid = logged_in(app, "ppid1", "ppid")
    ppid.get("/kotak-masuk")
    step(ppid, number, "verifikasi")
    answer = {
        "held": "ya",
        "decision": "penuh",
        "form_of": "softcopy",
        "medium": "email",
        "cost": "0",
        "text": "Ok",
    }
    assert (
        step(ppid, number, "jawab", **answer).status_code == 302
    )  # answered the day it came: 0 working days
    rows = {(r["section"], r["item"]): r["value"] for r in csv.DictReader(io.StringIO(
        ppid.get("/laporan.csv?tahun=2026&bulan=11").get_data(as_text=True)))}  # fmt: skip
    assert rows[("requests", "average_working_days_to_answer")] == "0.0"
    page = ppid.get("/laporan?tahun=2026&bulan=11").get_data(as_text=True)
    assert "<td>0,0</td>" in page  # Bahasa Indonesia writes a decimal comma
    empty = ppid.get("/laporan?tahun=2025").get_data(as_text=True)  # no cases: charts say so in Indonesian
    for text in (page, empty):
        shown = text + "".join(
            base64.b64decode(uri).decode() for uri in re.findall(r"base64,([A-Za-z0-9+/=]+)", text)
        )
        assert ">received<" not in shown and "No data" not in shown
    assert "Tidak ada data" in "".join(
        base64.b64decode(uri).decode() for uri in re.findall(r"base64,([A-Za-z0-9+/=]+)", empty)
    )
