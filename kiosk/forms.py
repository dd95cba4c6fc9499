"""The citizens' forms (Flask-WTF: every form carries a CSRF token) and their validation.

Every text field is stripped of control and bidi-override characters and capped in length; the messages are
plain Bahasa Indonesia (translated when the kiosk shows English). Codes, not labels, are stored.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from gateway import regno

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_PHONE_RE = re.compile(r"(?:\+62|62|0)8\d{7,12}|(?:\+62|62|0)[2-7]\d{6,10}")
_EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s.]{1,63}(\.[^@\s.]{1,63})+")


def _choices(pairs: list[tuple[str, Any]]) -> list[Any]:
    """Choices as wtforms >= 3.3 wants them (SelectChoice), plain pairs on older versions."""
    try:
        from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
    except ImportError:
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


def clean_line(value: Any) -> Any:
    """One line of text: no control characters, whitespace collapsed."""
    if not isinstance(value, str):
        return value
    return " ".join(_CONTROL.sub("", value).split())


def clean_text(value: Any) -> Any:
    """A text block: no control characters except newlines, at most two blank lines in a row."""
    if not isinstance(value, str):
        return value
    text = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def digits_only(value: Any) -> Any:
    return re.sub(r"[\s.\-]", "", value) if isinstance(value, str) else value


def _required(message: Any = None) -> DataRequired:
    return DataRequired(message=message or _l("Bagian ini wajib diisi."))


def _cap(limit: int) -> Length:
    return Length(max=limit, message=_l("Terlalu panjang: paling banyak %(max)d huruf.", max=limit))


def check_nik(_form: Any, field: Any) -> None:
    """A NIK is 16 digits: region (6), birth date (6, women's day + 40) and a serial (4)."""
    nik = field.data or ""
    if not re.fullmatch(r"\d{16}", nik):
        raise ValidationError(_l("NIK harus 16 angka, sesuai KTP."))
    day, month = int(nik[6:8]), int(nik[8:10])
    if not (1 <= day <= 31 or 41 <= day <= 71) or not 1 <= month <= 12 or nik[:2] < "11":
        raise ValidationError(_l("NIK ini tidak mungkin benar. Periksa kembali angka pada KTP."))


def check_phone(_form: Any, field: Any) -> None:
    if field.data and not _PHONE_RE.fullmatch(field.data):
        raise ValidationError(_l("Nomor telepon tidak valid. Contoh: 081234567890."))


def check_email(_form: Any, field: Any) -> None:
    if field.data and not _EMAIL_RE.fullmatch(field.data):
        raise ValidationError(_l("Alamat e-mail tidak valid. Contoh: nama@contoh.id."))


def check_number(_form: Any, field: Any) -> None:
    try:
        field.data = str(regno.parse(field.data or ""))
    except regno.InvalidNumber as err:
        if "check digit" in str(err):
            raise ValidationError(
                _l("Nomor ini salah ketik: angka pemeriksanya tidak cocok. Periksa kembali.")
            ) from err
        raise ValidationError(
            _l("Bentuk nomor tidak dikenali. Contoh: %(example)s.", example=example_number())
        ) from err


def example_number() -> str:
    """A well-formed registration number of this kiosk (its own prefix, today), for examples on screen."""
    from flask import current_app

    return regno.make(str(current_app.config["KIOSK_GATEWAY_ID"]), date.today(), 13)


def _fail(field: Any, message: Any) -> bool:
    """Add a form-level error to ``field``; returns False (the form is not valid)."""
    field.errors = [*field.errors, message]
    return False


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


def _email() -> StringField:
    return StringField(_l("E-mail (tidak wajib)"), [Optional(), _cap(120), check_email], filters=[clean_line])


class IdentityMixin:
    nama = _name()
    nik = _nik()
    alamat = StringField(_l("Alamat"), [_required(), _cap(200)], filters=[clean_line])
    pekerjaan = StringField(_l("Pekerjaan"), [Optional(), _cap(60)], filters=[clean_line])
    telepon = _phone()
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


class PermohonanForm(IdentityMixin, FlaskForm):
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


class PengaduanForm(FlaskForm):
    klasifikasi = RadioField(_l("Jenis laporan"), choices=_choices(CLASSES), default="pengaduan",
                             validators=[_required(_l("Pilih salah satu."))])  # fmt: skip
    kategori = SelectField(_l("Kategori"), choices=_choices([("", _l("— pilih kategori —")), *CATEGORIES]),
                           validators=[_required(_l("Pilih kategori."))])  # fmt: skip
    judul = StringField(_l("Judul laporan"), [_required(), _cap(150)], filters=[clean_line])
    isi = TextAreaField(
        _l("Isi laporan (apa, di mana, kapan)"), [_required(), _cap(3000)], filters=[clean_text]
    )
    tanggal_kejadian = DateField(_l("Tanggal kejadian (tidak wajib)"), validators=[Optional()],
                                 render_kw={"placeholder": "2025-03-24"})  # fmt: skip
    lokasi = StringField(_l("Lokasi kejadian"), [Optional(), _cap(200)], filters=[clean_line])
    anonim = BooleanField(_l("Anonim: identitas saya tidak disimpan dan tidak diketahui siapa pun"))
    rahasia = BooleanField(_l("Rahasia: laporan saya tidak dipublikasikan"))
    nama = StringField(_l("Nama lengkap"), [Optional(), _cap(100)], filters=[clean_line])
    nik = _nik(required=False)
    telepon = _phone(required=False)

    def validate_tanggal_kejadian(self, field: Any) -> None:
        if field.data and field.data > date.today():
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
        return valid

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


class KeberatanForm(IdentityMixin, FlaskForm):
    nomor_permohonan = StringField(_l("Nomor pendaftaran permohonan"), [_required(), _cap(48), check_number],
                                   filters=[clean_line])  # fmt: skip
    alasan = MultiCheckboxField(_l("Alasan keberatan (boleh lebih dari satu)"), choices=_choices(GROUNDS),
                                validators=[_required(_l("Pilih paling sedikit satu alasan."))])  # fmt: skip
    uraian = TextAreaField(_l("Uraian keberatan"), [_required(), _cap(2000)], filters=[clean_text])

    def public(self) -> dict[str, Any]:
        return {"nomor_permohonan": self.nomor_permohonan.data, "alasan": list(self.alasan.data or []),
                "uraian": self.uraian.data}  # fmt: skip


class StatusForm(FlaskForm):
    nomor = StringField(_l("Nomor pendaftaran"), [_required(), _cap(48), check_number], filters=[clean_line])


class LoginForm(FlaskForm):
    password = StringField(_l("Kata sandi operator"), [_required(), _cap(200)])
