"""The citizens' forms (Flask-WTF: every form carries a CSRF token) and their validation.

Every text field is stripped of control characters and bidirectional overrides and isolates, and capped in
length; everything else (zero-width joiners of emoji sequences and scripts, marks) is kept as typed. Digits
of any script in numeric fields (NIK, phone, numbers, dates) become ASCII digits. The messages are plain
Bahasa Indonesia (translated when the kiosk shows English). Codes, not labels, are stored.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from gateway import regno, statuscode
from kiosk import nik
from kiosk.views import kiosk_today

# Bidirectional embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069): they can make a text
# read differently from what it holds (Unicode TR #9; "Trojan Source", CVE-2021-42574).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_PHONE_RE = re.compile(r"(?:\+62|62|0)8[0-9]{7,12}|(?:\+62|62|0)[2-7][0-9]{6,10}")
_EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s.]{1,63}(\.[^@\s.]{1,63})+")


def _choices(pairs: list[tuple[str, Any]]) -> list[Any]:
    """Choices as wtforms >= 3.3 wants them (SelectChoice), plain pairs on older versions."""
    try:
        from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
    except ImportError:
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


def _strip_controls(text: str, keep: str = "") -> str:
    """``text`` without control characters (category Cc, except those in ``keep``) and bidi controls."""
    text = "".join(ch for ch in text if ch in keep or unicodedata.category(ch) != "Cc")
    return _BIDI_CONTROLS.sub("", text)


def clean_line(value: Any) -> Any:
    """One line of text: no control characters or bidi controls, whitespace collapsed; all else as typed."""
    if not isinstance(value, str):
        return value
    return " ".join(_strip_controls(value, keep="\t\n\r").split())  # line breaks and tabs become spaces


def clean_text(value: Any) -> Any:
    """A text block: no control characters except newlines and tabs, no bidi controls, at most two blank
    lines in a row; all else (zero-width joiners, emoji sequences, marks) as typed."""
    if not isinstance(value, str):
        return value
    text = _strip_controls(value.replace("\r\n", "\n").replace("\r", "\n"), keep="\n\t")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def ascii_digits(value: Any) -> Any:
    """Every Unicode decimal digit (category Nd: Arabic-Indic, Javanese, fullwidth, ...) as its ASCII digit."""
    if not isinstance(value, str):
        return value
    return "".join(str(d) if (d := unicodedata.decimal(ch, None)) is not None else ch for ch in value)


def digits_only(value: Any) -> Any:
    """A number as typed with spaces, dots or dashes between groups: ASCII digits without the separators."""
    return re.sub(r"[\s.\-]", "", ascii_digits(value)) if isinstance(value, str) else value


def _required(message: Any = None) -> DataRequired:
    return DataRequired(message=message or _l("Bagian ini wajib diisi."))


def _cap(limit: int) -> Length:
    return Length(max=limit, message=_l("Terlalu panjang: paling banyak %(max)d huruf.", max=limit))


def check_nik(_form: Any, field: Any) -> None:
    """A NIK's structure (kiosk/nik.py: 16 digits, region, birth date with women's day + 40, serial)."""
    try:
        nik.parse(field.data or "")
    except nik.InvalidNik as err:
        raise ValidationError(_NIK_MESSAGES[err.part]) from err


_NIK_MESSAGES = {
    "length": _l("NIK harus 16 angka, sesuai KTP."),
    "region": _l("NIK ini tidak mungkin benar: 6 angka pertamanya bukan kode wilayah. "
                 "Periksa kembali angka pada KTP."),
    "birth_date": _l("NIK ini tidak mungkin benar: angka ke-7 sampai ke-12 bukan tanggal lahir "
                     "(tanggal-bulan-tahun; untuk perempuan tanggal ditambah 40). Periksa kembali angka pada KTP."),
    "serial": _l("NIK ini tidak mungkin benar: 4 angka terakhirnya tidak boleh 0000. "
                 "Periksa kembali angka pada KTP."),
}  # fmt: skip


def check_phone(_form: Any, field: Any) -> None:
    if field.data and not _PHONE_RE.fullmatch(field.data):
        raise ValidationError(_l("Nomor telepon tidak valid. Contoh: 081234567890."))


def check_email(_form: Any, field: Any) -> None:
    if field.data and not _EMAIL_RE.fullmatch(field.data):
        raise ValidationError(_l("Alamat e-mail tidak valid. Contoh: nama@contoh.id."))


def check_number(_form: Any, field: Any) -> None:
    """A registration number as typed (gateway.regno: case, spaces and '/' forgiven), made canonical; a message
    chosen by the number's problem (:data:`gateway.regno.Problem`) when it cannot be right."""
    try:
        field.data = str(regno.parse(field.data or ""))
    except regno.InvalidNumber as err:
        message = _NUMBER_MESSAGES.get(err.code, _NUMBER_MESSAGES["form"])
        raise ValidationError(message % {"example": example_number()}) from err


# What the kiosk says about a registration number that cannot be right, by its problem (gateway.regno.Problem);
# %(example)s is a number of this kiosk. A mistyped or swapped digit gets no example: the form is right.
_UNKNOWN_FORM = _l("Bentuk nomor tidak dikenali. Contoh: %(example)s.")
_NUMBER_MESSAGES: dict[regno.Problem, Any] = {
    "form": _UNKNOWN_FORM,
    "date": _UNKNOWN_FORM,
    "check_digit": _l("Nomor ini salah ketik: angka pemeriksanya tidak cocok. Periksa kembali."),
}


def example_number() -> str:
    """A well-formed registration number of this kiosk (its own prefix, today), for examples on screen."""
    from flask import current_app

    return regno.make(str(current_app.config["KIOSK_GATEWAY_ID"]), kiosk_today(), 13)


def _fail(field: Any, message: Any) -> bool:
    """Add a form-level error to ``field``; returns False (the form is not valid)."""
    field.errors = [*field.errors, message]
    return False


class DigitsDateField(DateField):
    """A date typed as YYYY-MM-DD in the digits of any script (rendered like any DateField)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.type = "DateField"  # the templates render a DateField as a text field for the on-screen keyboard

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata([ascii_digits(value) for value in valuelist])


def _key_or_none(value: Any) -> str | None:
    """A well-formed idempotency key (a UUID, canonical form) or None: anything else is no key."""
    try:
        return str(uuid.UUID(str(value))) if value else None
    except ValueError:
        return None


class OnceMixin:
    """One form, one submission: each form is served with a random idempotency key (a hidden field, a new
    UUID per page served); the store keeps one submission per key, so a double tap or a resend of the same
    page gets the first submission's receipt. A post without a well-formed key is saved without one."""

    idempotency_key = HiddenField(default=lambda: str(uuid.uuid4()), filters=[_key_or_none])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _name() -> StringField:
    return StringField(_l("Nama lengkap"), [_required(), _cap(100)], filters=[clean_line])


def _nik(required: bool = True) -> StringField:
    checks = [_required(), check_nik] if required else [Optional(), check_nik]
    return StringField(_l("NIK (16 angka pada KTP)"), checks, filters=[digits_only])


def _phone(required: bool = True) -> StringField:
    checks = [_required(), check_phone] if required else [Optional(), check_phone]
    return StringField(_l("Nomor telepon / HP"), checks, filters=[digits_only])


_MOBILE_RE = re.compile(r"(?:\+62|62|0)8[0-9]{7,12}")  # the numbers an SMS reaches (the central's rule too)


def _sms() -> BooleanField:
    """The opt-in to be told by SMS (docs/sms.md): the central texts the phone number given on the form."""
    return BooleanField(
        _l("Kabari saya lewat SMS bila ada jawaban atau perubahan (ke nomor di atas)"),
        description=_l("Hanya ke nomor HP (08… atau +628…). Pengaduan anonim tidak mendapat SMS."),
    )


def check_sms(form: Any) -> bool:
    """Whether the SMS opt-in of ``form`` (fields ``kabari_sms``, ``telepon``, maybe ``anonim``) can be kept: an
    SMS needs a mobile number (``08…``, ``628…``, ``+628…``; a landline gets none) and an anonymous complaint
    gets none (its identity is not kept: SP4N-LAPOR!). Adds the reason, in the citizen's language, to the
    checkbox's errors and answers False when it cannot; True otherwise (also when SMS is not asked for)."""
    if not form.kabari_sms.data:
        return True
    if getattr(form, "anonim", None) is not None and form.anonim.data:
        return _fail(form.kabari_sms, _l("Pengaduan anonim tidak mendapat SMS. Hapus centang SMS, atau jangan "
                                         "pilih Anonim."))  # fmt: skip
    if not _MOBILE_RE.fullmatch(form.telepon.data or ""):
        return _fail(form.kabari_sms, _l("SMS hanya dapat dikirim ke nomor HP (08… atau +628…). Isi nomor HP, "
                                         "atau hapus centang SMS."))  # fmt: skip
    return True


def masked_phone(phone: str) -> str:
    """A mobile number as the receipt shows it: national form (``62…``/``+62…`` -> ``0…``), its first four and
    last four digits kept, the others as ``*``: ``081234567890`` -> ``0812****7890``."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("62"):
        digits = "0" + digits[2:]
    if len(digits) <= 8:
        return "*" * len(digits)
    return digits[:4] + "*" * (len(digits) - 8) + digits[-4:]


def sms_outcome(form: Any) -> dict[str, str]:
    """What the receipt says about SMS for the submitted ``form`` (kiosk/templates/receipt.html):
    ``{"state": "yes", "to": "0812****7890"}`` (asked, and a mobile number: the central will text it),
    ``{"state": "anonymous"}`` (an anonymous complaint: no SMS, SP4N-LAPOR!), ``{"state": "landline"}`` (a
    number an SMS cannot reach) or ``{"state": "none"}`` (not asked). Only the masked number is kept."""
    if getattr(form, "anonim", None) is not None and form.anonim.data:
        return {"state": "anonymous"}
    phone = getattr(form, "telepon", None)
    number = (phone.data or "") if phone is not None else ""
    asked = getattr(form, "kabari_sms", None) is not None and bool(form.kabari_sms.data)
    if asked and _MOBILE_RE.fullmatch(number):
        return {"state": "yes", "to": masked_phone(number)}
    if number and not _MOBILE_RE.fullmatch(number):
        return {"state": "landline"}
    return {"state": "none"}


def _email() -> StringField:
    return StringField(_l("E-mail (tidak wajib)"), [Optional(), _cap(120), check_email], filters=[clean_line])


class IdentityMixin:
    nama = _name()
    nik = _nik()
    alamat = StringField(_l("Alamat"), [_required(), _cap(200)], filters=[clean_line])
    pekerjaan = StringField(_l("Pekerjaan"), [Optional(), _cap(60)], filters=[clean_line])
    telepon = _phone()
    kabari_sms = _sms()
    email = _email()

    def personal(self) -> dict[str, Any]:
        return {
            key: getattr(self, key).data or ""
            for key in ("nama", "nik", "alamat", "pekerjaan", "telepon", "email")
        }


HOW_TO_GET = [("melihat", _l("Melihat / membaca / mendengarkan / mencatat")),
              ("salinan", _l("Mendapatkan salinan"))]  # fmt: skip
COPY_FORMATS = [("softcopy", _l("Softcopy (berkas digital)")), ("hardcopy", _l("Hardcopy (cetak)"))]
DELIVERY = [("langsung", _l("Mengambil langsung")), ("kurir", _l("Kurir")), ("pos", _l("Pos")),
            ("faksimili", _l("Faksimili")), ("email", _l("E-mail"))]  # fmt: skip


class PermohonanForm(IdentityMixin, OnceMixin, FlaskForm):
    rincian = TextAreaField(
        _l("Rincian informasi yang dibutuhkan"), [_required(), _cap(2000)], filters=[clean_text]
    )
    tujuan = TextAreaField(_l("Tujuan penggunaan informasi"), [_required(), _cap(1000)], filters=[clean_text])
    cara_memperoleh = RadioField(_l("Cara memperoleh informasi"), choices=_choices(HOW_TO_GET), default="melihat",
                                 validators=[_required(_l("Pilih salah satu."))])  # fmt: skip
    format_salinan = RadioField(_l("Bentuk salinan"), choices=_choices(COPY_FORMATS), validators=[Optional()])
    cara_salinan = RadioField(
        _l("Cara mendapatkan salinan"), choices=_choices(DELIVERY), validators=[Optional()]
    )

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        valid = check_sms(self) and valid
        if self.cara_memperoleh.data == "salinan":
            if not self.format_salinan.data:
                valid = _fail(self.format_salinan, _l("Pilih bentuk salinan."))
            if not self.cara_salinan.data:
                valid = _fail(self.cara_salinan, _l("Pilih cara mendapatkan salinan."))
            elif self.cara_salinan.data == "email" and not self.email.data:
                valid = _fail(self.cara_salinan, _l("Isi alamat e-mail untuk menerima salinan lewat e-mail."))
        return valid

    def public(self) -> dict[str, Any]:
        copy = self.cara_memperoleh.data == "salinan"
        return {"rincian": self.rincian.data, "tujuan": self.tujuan.data, "cara_memperoleh": self.cara_memperoleh.data,
                "format_salinan": self.format_salinan.data if copy else None,
                "cara_salinan": self.cara_salinan.data if copy else None}  # fmt: skip


CLASSES = [("pengaduan", _l("Pengaduan")), ("aspirasi", _l("Aspirasi / usulan")),
           ("permintaan-informasi", _l("Permintaan informasi"))]  # fmt: skip
CATEGORIES = [
    ("jalan-rusak", _l("Jalan rusak")), ("sampah", _l("Sampah")), ("banjir", _l("Banjir")),
    ("pelayanan-publik", _l("Pelayanan publik")), ("bansos", _l("Bantuan sosial (bansos)")),
    ("adminduk", _l("Administrasi kependudukan")), ("kesehatan", _l("Kesehatan")),
    ("pendidikan", _l("Pendidikan")), ("listrik-air", _l("Listrik / air bersih")),
    ("pungli", _l("Pungutan liar (pungli)")), ("dana-desa", _l("Dana desa")), ("lainnya", _l("Lainnya")),
]  # fmt: skip


class PengaduanForm(OnceMixin, FlaskForm):
    klasifikasi = RadioField(_l("Jenis laporan"), choices=_choices(CLASSES), default="pengaduan",
                             validators=[_required(_l("Pilih salah satu."))])  # fmt: skip
    kategori = SelectField(_l("Kategori"), choices=_choices([("", _l("— pilih kategori —")), *CATEGORIES]),
                           validators=[_required(_l("Pilih kategori."))])  # fmt: skip
    judul = StringField(_l("Judul laporan"), [_required(), _cap(150)], filters=[clean_line])
    isi = TextAreaField(
        _l("Isi laporan (apa, di mana, kapan)"), [_required(), _cap(3000)], filters=[clean_text]
    )
    tanggal_kejadian = DigitsDateField(_l("Tanggal kejadian (tidak wajib)"), validators=[Optional()],
                                       render_kw={"placeholder": "2025-03-24"})  # fmt: skip
    lokasi = StringField(_l("Lokasi kejadian"), [Optional(), _cap(200)], filters=[clean_line])
    anonim = BooleanField(_l("Anonim: identitas saya tidak disimpan dan tidak diketahui siapa pun"))
    rahasia = BooleanField(_l("Rahasia: laporan saya tidak dipublikasikan"))
    nama = StringField(_l("Nama lengkap"), [Optional(), _cap(100)], filters=[clean_line])
    nik = _nik(required=False)
    telepon = _phone(required=False)
    kabari_sms = _sms()

    def validate_tanggal_kejadian(self, field: Any) -> None:
        if field.data and field.data > kiosk_today():
            raise ValidationError(_l("Tanggal kejadian tidak boleh di masa depan."))

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if not self.anonim.data:
            if not self.nama.data:
                valid = _fail(self.nama, _l("Isi nama Anda, atau pilih Anonim."))
            if not self.telepon.data:
                valid = _fail(
                    self.telepon,
                    _l("Isi nomor telepon agar petugas dapat menghubungi Anda, atau pilih Anonim."),
                )
        return check_sms(self) and valid

    def public(self) -> dict[str, Any]:
        when = self.tanggal_kejadian.data
        return {"klasifikasi": self.klasifikasi.data, "kategori": self.kategori.data, "judul": self.judul.data,
                "isi": self.isi.data, "tanggal_kejadian": when.isoformat() if when else None,
                "lokasi": self.lokasi.data or None, "anonim": bool(self.anonim.data),
                "rahasia": bool(self.rahasia.data)}  # fmt: skip

    def personal(self) -> dict[str, Any] | None:
        if self.anonim.data:
            return None  # anonim: the identity is not kept at all
        return {"nama": self.nama.data, "nik": self.nik.data or "", "telepon": self.telepon.data}


GROUNDS = [  # UU 14/2008 Ps. 35(1) a-g
    ("a", _l("Permohonan ditolak dengan alasan pengecualian (Ps. 17)")),
    ("b", _l("Informasi berkala tidak disediakan")),
    ("c", _l("Permohonan tidak ditanggapi")),
    ("d", _l("Permohonan ditanggapi tidak sebagaimana yang diminta")),
    ("e", _l("Permohonan tidak dipenuhi")),
    ("f", _l("Biaya yang dikenakan tidak wajar")),
    ("g", _l("Informasi disampaikan melebihi jangka waktu")),
]


class KeberatanForm(IdentityMixin, OnceMixin, FlaskForm):
    nomor_permohonan = StringField(_l("Nomor pendaftaran permohonan"), [_required(), _cap(48), check_number],
                                   filters=[clean_line, ascii_digits])  # fmt: skip
    alasan = MultiCheckboxField(_l("Alasan keberatan (boleh lebih dari satu)"), choices=_choices(GROUNDS),
                                validators=[_required(_l("Pilih paling sedikit satu alasan."))])  # fmt: skip
    uraian = TextAreaField(_l("Uraian keberatan"), [_required(), _cap(2000)], filters=[clean_text])

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        return check_sms(self) and valid

    def public(self) -> dict[str, Any]:
        return {"nomor_permohonan": self.nomor_permohonan.data, "alasan": list(self.alasan.data or []),
                "uraian": self.uraian.data}  # fmt: skip


def check_code(_form: Any, field: Any) -> None:
    """A status code as typed (gateway.statuscode): canonical form, or a message saying how it looks."""
    code = statuscode.normalise(field.data or "")
    if code is None:
        raise ValidationError(_l("Kode status tidak dikenali: 15 huruf dan angka, contoh 7KQ2M-9XD4H-RTB3N."))
    field.data = code


class StatusForm(FlaskForm):
    nomor = StringField(
        _l("Nomor pendaftaran"), [_required(), _cap(48), check_number], filters=[clean_line, ascii_digits]
    )
    kode = StringField(_l("Kode status (pada tanda terima)"), [Optional(), _cap(64), check_code],
                       filters=[clean_line])  # fmt: skip


class LoginForm(FlaskForm):
    password = StringField(_l("Kata sandi operator"), [_required(), _cap(200)])
