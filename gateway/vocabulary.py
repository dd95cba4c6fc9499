"""The words every part shares: streams, submission kinds and statuses, change kinds, the reading record's keys
and the unit suffixes of measurement names. Defined here once; the store, the ingest, the kiosk, the sync
client, the protocol and the central import them (tests/test_vocabulary.py fails when a second definition of
one appears elsewhere).

Each word list is a :class:`enum.StrEnum`, whose members are ``str`` (``SubmissionKind.REQUEST == "request"``,
a mapping keyed by members is found by the plain string, JSON and SQL see the plain string), with a tuple of
the plain values beside it (``SUBMISSION_KINDS``) for membership checks, click choices and error messages.
The values are fixed by contracts (the design's contracts, written out in docs/protocol.md) and by what gateways already in
the field store and send: never rename one.

Part of the lowest layer: imports nothing of the project.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict


def _values(words: type[StrEnum]) -> tuple[str, ...]:
    """The members' values as plain strings, in definition order."""
    return tuple(member.value for member in words)


class Stream(StrEnum):
    """A stream the gateway sends to the central (DESIGN.md, "Contract: the sync API": ``POST /api/v1/batches``
    ``{"stream": "readings"|"submissions"|"events"}``, and ``ratings``, the citizens' anonymous satisfaction
    ratings, a later extension: docs/protocol.md, docs/skm.md); each numbers its records with its own ``seq``.
    Defined in upload priority order: citizens' submissions first, readings last."""

    SUBMISSIONS = "submissions"
    EVENTS = "events"
    RATINGS = "ratings"
    READINGS = "readings"


STREAMS = _values(Stream)  # upload priority order


class SubmissionKind(StrEnum):
    """What a citizen files at the kiosk (docs/protocol.md, the submission record's ``kind``); the store refuses
    any other and the central validates the same list."""

    REQUEST = "request"  # permohonan informasi publik, UU 14/2008 Ps. 22
    COMPLAINT = "complaint"  # pengaduan, the SP4N-LAPOR! flow (docs/backoffice.md)
    OBJECTION = "objection"  # keberatan to the Atasan PPID, UU 14/2008 Ps. 35-36


SUBMISSION_KINDS = _values(SubmissionKind)


class SubmissionStatus(StrEnum):
    """A submission's status as the central sends it down (docs/protocol.md, "Changes": a ``submission`` change's
    ``status``); the kiosk shows each in plain Indonesian. A new submission is ``received``."""

    RECEIVED = "received"
    IN_PROGRESS = "in-progress"
    ANSWERED = "answered"
    REJECTED = "rejected"
    EXTENDED = (
        "extended"  # a request's answer deadline extended by at most 7 working days, UU 14/2008 Ps. 22(8)
    )
    CLOSED = "closed"


SUBMISSION_STATUSES = _values(SubmissionStatus)


class LaporStage(StrEnum):
    """The SP4N-LAPOR! stages an office may send as a status instead (Tulis Laporan -> Verifikasi -> Tindak
    Lanjut -> Beri Tanggapan -> Selesai, and the outcomes Tunda, Bukan Wewenang, Arsipkan; docs/backoffice.md).
    The kiosk shows these too; a status in neither list is shown as it is."""

    DITERIMA = "diterima"
    VERIFIKASI = "verifikasi"
    DIPROSES = "diproses"
    TINDAK_LANJUT = "tindak-lanjut"
    DIPERPANJANG = "diperpanjang"
    DIJAWAB = "dijawab"
    DITOLAK = "ditolak"
    SELESAI = "selesai"
    BUKAN_WEWENANG = "bukan-wewenang"
    TUNDA = "tunda"
    ARSIP = "arsip"


LAPOR_STAGES = _values(LaporStage)


class CaseStatus(StrEnum):
    """A case's status in the central's back office (docs/backoffice.md), stored in its ``cases`` table;
    ``sync.central.backoffice.cases.kiosk_status`` maps each to the :class:`SubmissionStatus` the kiosk sees."""

    BARU = "baru"  # received, not yet verified
    DIVERIFIKASI = "diverifikasi"
    DIDISPOSISI = "didisposisi"  # handed to an OPD
    DITUNDA = "ditunda"  # a complaint deferred (SP4N-LAPOR! Tunda)
    DIJAWAB = "dijawab"
    DITOLAK = "ditolak"
    SELESAI = "selesai"


CASE_STATUSES = _values(CaseStatus)


class DueKind(StrEnum):
    """What a submission's shown deadline is the deadline of (a ``submission`` change's ``due_kind``): a request's
    or objection's answer (UU 14/2008 Ps. 22(7), Ps. 36), a complaint's verification or follow-up, or the day a
    complaint closes by itself after the reply (SP4N-LAPOR!); ``none`` when no deadline runs now."""

    ANSWER = "answer"
    VERIFICATION = "verification"
    FOLLOW_UP = "follow-up"
    AUTO_CLOSE = "auto-close"
    NONE = "none"


DUE_KINDS = _values(DueKind)


class ContentKind(StrEnum):
    """The kind of an item of ``GET /api/v1/changes`` (docs/protocol.md, "Changes")."""

    DIP = "dip"  # an entry of the Daftar Informasi Publik
    DOCUMENT = "document"
    ANNOUNCEMENT = "announcement"
    SUBMISSION = "submission"  # a status update of a citizen's submission
    CONFIG = "config"


CONTENT_KINDS = _values(ContentKind)


class DipCategory(StrEnum):
    """The category of a DIP entry (a ``dip`` change's ``category``), after UU 14/2008."""

    BERKALA = "berkala"  # periodic, Ps. 9
    SERTA_MERTA = "serta-merta"  # immediate, Ps. 10
    SETIAP_SAAT = "setiap-saat"  # available at any time, Ps. 11
    DIKECUALIKAN = "dikecualikan"  # exempt, Ps. 17


DIP_CATEGORIES = _values(DipCategory)


class ReadingRecord(TypedDict):
    """One reading as it travels in a ``readings`` batch (docs/protocol.md, "Record shapes"): the stream's
    ``seq``; the node id, its boot counter and the frame's sequence number ``q`` in that boot (the frame's
    identity, DESIGN.md "Contract: the node frame"); the measurement's ``name`` and ``value``; ``at`` the
    gateway's clock in ms since the epoch and ``offset`` the ms to add to get the central's time (None: the
    clock was not known good)."""

    seq: int
    node: str
    boot: int
    q: int
    name: str
    value: int | float
    at: int
    offset: int | None


READING_KEYS: tuple[str, ...] = tuple(
    ReadingRecord.__annotations__
)  # the columns of the columnar form, in order

# The keys of a reading as ``anjungan readings`` prints it (DESIGN.md, "Contract: the command line": jsonl rows
# ``{"node", "boot", "seq", "name", "value", "received_at"}``, ``received_at`` ISO 8601 UTC); the central's
# ``central export readings`` puts ``gateway`` first. Here ``seq`` is the frame's sequence number (``q``).
READING_EXPORT_KEYS: tuple[str, ...] = ("node", "boot", "seq", "name", "value", "received_at")


class UnitSuffix(StrEnum):
    """The unit a measurement name carries as its suffix after the last ``_`` (DESIGN.md, "Contract: the node
    frame": ``water_cm``, ``temp_c``, ``rh_pct``, ...)."""

    C = "c"
    PCT = "pct"
    CM = "cm"
    MM = "mm"
    V = "v"
    A = "a"
    W = "w"
    WH = "wh"
    HZ = "hz"
    HPA = "hpa"
    UGM3 = "ugm3"


UNIT_SUFFIXES = _values(UnitSuffix)

UNIT_SYMBOLS: dict[str, str] = {  # the symbol of each unit, as pages and open data show it
    UnitSuffix.C: "°C",
    UnitSuffix.PCT: "%",
    UnitSuffix.CM: "cm",
    UnitSuffix.MM: "mm",
    UnitSuffix.V: "V",
    UnitSuffix.A: "A",
    UnitSuffix.W: "W",
    UnitSuffix.WH: "Wh",
    UnitSuffix.HZ: "Hz",
    UnitSuffix.HPA: "hPa",
    UnitSuffix.UGM3: "µg/m³",
}

# the measurements whose readings add up (each reading is what fell since the one before: firmware/rain.py's
# tips of the rain gauge), so that a period's sum is its figure, not its mean or its latest reading
SUMMED_MEASUREMENTS = ("rain_mm",)


class SkmElement(StrEnum):
    """The nine elements of the Survei Kepuasan Masyarakat (PermenPANRB 14/2017, Lampiran, "Ruang lingkup"),
    each rated 1-4 by a citizen; the key of each rating in a ``ratings`` record (docs/protocol.md)."""

    U1 = "u1"  # persyaratan
    U2 = "u2"  # sistem, mekanisme dan prosedur
    U3 = "u3"  # waktu penyelesaian
    U4 = "u4"  # biaya/tarif
    U5 = "u5"  # produk spesifikasi jenis pelayanan
    U6 = "u6"  # kompetensi pelaksana
    U7 = "u7"  # perilaku pelaksana
    U8 = "u8"  # penanganan pengaduan, saran dan masukan
    U9 = "u9"  # sarana dan prasarana


SKM_ELEMENTS = _values(SkmElement)


class SkmService(StrEnum):
    """The kiosk service a satisfaction rating is about (a ``ratings`` record's ``service``): the three
    submission kinds and the status check."""

    REQUEST = SubmissionKind.REQUEST.value
    COMPLAINT = SubmissionKind.COMPLAINT.value
    OBJECTION = SubmissionKind.OBJECTION.value
    STATUS_CHECK = "status-check"


SKM_SERVICES = _values(SkmService)
