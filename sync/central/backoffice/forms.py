"""The back office's forms (Flask-WTF: each carries a CSRF token).

Every form derives from :class:`Form`, whose messages speak the page's language: WTForms' own messages (its
validators' and fields', in English and with no Indonesian catalogue) go through :data:`WTFORMS_MESSAGES`, the
back office's words for them (translated by Flask-Babel like every other string of the back office).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from gateway.vocabulary import SubmissionKind
from sync.central.backoffice import labels
from sync.central.backoffice.roles import ROLES

# WTForms 3.x's messages (wtforms/locale/wtforms.pot), as the back office says them
WTFORMS_MESSAGES: dict[str, Any] = {
    "This field is required.": _l("Bagian ini wajib diisi."),
    "Invalid input.": _l("Isian tidak sah."),
    "Field must be at least %(min)d character long.": _l("Terlalu pendek: paling sedikit %(min)d huruf."),
    "Field must be at least %(min)d characters long.": _l("Terlalu pendek: paling sedikit %(min)d huruf."),
    "Field cannot be longer than %(max)d character.": _l("Terlalu panjang: paling banyak %(max)d huruf."),
    "Field cannot be longer than %(max)d characters.": _l("Terlalu panjang: paling banyak %(max)d huruf."),
    "Field must be exactly %(max)d character long.": _l("Harus tepat %(max)d huruf."),
    "Field must be exactly %(max)d characters long.": _l("Harus tepat %(max)d huruf."),
    "Field must be between %(min)d and %(max)d characters long.": _l(
        "Panjangnya %(min)d sampai %(max)d huruf."
    ),
    "Number must be at least %(min)s.": _l("Angka paling kecil %(min)s."),
    "Number must be at most %(max)s.": _l("Angka paling besar %(max)s."),
    "Number must be between %(min)s and %(max)s.": _l("Angka harus antara %(min)s dan %(max)s."),
    "Date must be at least %(min)s.": _l("Tanggal paling awal %(min)s."),
    "Date must be at most %(max)s.": _l("Tanggal paling akhir %(max)s."),
    "Date must be between %(min)s and %(max)s.": _l("Tanggal harus antara %(min)s dan %(max)s."),
    "Field must be equal to %(other_name)s.": _l("Harus sama dengan %(other_name)s."),
    "Invalid email address.": _l("Alamat e-mail tidak sah."),
    "Invalid URL.": _l("Alamat web tidak sah."),
    "Invalid value, must be one of: %(values)s.": _l("Harus salah satu dari: %(values)s."),
    "Invalid value, can't be any of: %(values)s.": _l("Tidak boleh salah satu dari: %(values)s."),
    "This field cannot be edited.": _l("Bagian ini tidak dapat diubah."),
    "This field is disabled and cannot have a value.": _l("Bagian ini tidak dapat diisi."),
    "Not a valid choice.": _l("Pilihan tidak dikenal."),
    "Invalid Choice: could not coerce.": _l("Pilihan tidak dikenal."),
    "Invalid choice(s): one or more data inputs could not be coerced.": _l("Ada pilihan yang tidak dikenal."),
    "'%(value)s' is not a valid choice for this field.": _l("'%(value)s' bukan pilihan yang dikenal."),
    "'%(value)s' are not valid choices for this field.": _l("'%(value)s' bukan pilihan yang dikenal."),
    "Not a valid integer value.": _l("Harus bilangan bulat, misalnya 3."),
    "Not a valid decimal value.": _l("Harus angka, misalnya 2,5."),
    "Not a valid float value.": _l("Harus angka, misalnya 2,5."),
    "Not a valid date value.": _l("Tanggal tidak sah; contoh: 2026-11-23."),
    "Not a valid datetime value.": _l("Waktu tidak sah."),
    "Not a valid time value.": _l("Jam tidak sah."),
}


class Messages:
    """WTForms' translations (``Meta.get_translations``): each of its messages as :data:`WTFORMS_MESSAGES` says
    it, in the page's language; a message missing there is "Isian tidak sah." (never English on an Indonesian
    page)."""

    def gettext(self, string: str) -> str:
        return str(WTFORMS_MESSAGES.get(string, WTFORMS_MESSAGES["Invalid input."]))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


MESSAGES = Messages()


class Form(FlaskForm):
    """The back office's form: Flask-WTF's (a CSRF token) with messages in the page's language."""

    class Meta:
        def get_translations(self, form: Any) -> Messages:
            return MESSAGES


def choices(pairs: list[tuple[str, Any]]) -> list[Any]:
    """Choices as wtforms >= 3.3 wants them (SelectChoice), plain pairs on older versions."""
    try:
        from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
    except ImportError:
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


class LoginForm(Form):
    username = StringField(_l("Nama pengguna"), [DataRequired(), Length(max=64)])
    password = PasswordField(_l("Kata sandi"), [DataRequired(), Length(max=200)])


class EmptyForm(Form):
    """A form with only the CSRF token (a button that does one thing)."""


class UserForm(Form):
    """A new officer's account. No role is chosen beforehand (least privilege): the admin picks one."""

    username = StringField(_l("Nama pengguna"), [DataRequired(), Length(min=2, max=64)])
    role = SelectField(_l("Peran"), choices=choices([("", _l("— pilih peran —"))] + [(r, labels.ROLES[r]) for r in ROLES]),
                       default="", validators=[DataRequired(_l("Pilih peran pengguna."))])  # fmt: skip
    opd = SelectField(_l("OPD (untuk pelaksana)"), choices=choices([]), validators=[Optional()])


class OpdForm(Form):
    code = StringField(_l("Kode OPD"), [DataRequired(), Length(max=32)])
    name = StringField(_l("Nama OPD"), [DataRequired(), Length(max=200)])


class DayOffForm(Form):
    day = DateField(_l("Tanggal"), [DataRequired()])
    name = StringField(_l("Keterangan"), [DataRequired(), Length(max=200)])


class NoteForm(Form):
    """An action with a free text (a reason, a reply)."""

    text = TextAreaField(_l("Keterangan"), [DataRequired(), Length(max=5000)])


class AssignForm(Form):
    opd = SelectField(_l("Disposisi ke OPD"), choices=choices([]), validators=[DataRequired()])
    text = TextAreaField(_l("Catatan disposisi"), [Optional(), Length(max=2000)])


class ExtendForm(Form):
    days = IntegerField(_l("Perpanjangan (hari kerja, paling lama 7)"), [DataRequired(), NumberRange(1, 7)])
    text = TextAreaField(_l("Alasan perpanjangan"), [DataRequired(), Length(max=2000)])


class WithholdForm(Form):
    """Withholding a complaint from open data, or publishing it again: why (kept in the audit trail)."""

    reason = TextAreaField(_l("Alasan (tercatat di jejak audit)"), [DataRequired(), Length(max=500)])


class RefuseForm(Form):
    reason = RadioField(_l("Alasan"), choices=choices([("bukan-wewenang", _l("Bukan wewenang")),
                                               ("duplikat", _l("Duplikat laporan lain")),
                                               ("tidak-lengkap", _l("Laporan tidak dapat ditindaklanjuti"))]),
                        validators=[DataRequired()])  # fmt: skip
    duplicate_of = StringField(_l("Nomor laporan asal (untuk duplikat)"), [Optional(), Length(max=64)])
    text = TextAreaField(_l("Penjelasan kepada pelapor"), [DataRequired(), Length(max=2000)])


# UU 14/2008 Ps. 17 a-j: the exemptions a refusal may rest on
EXEMPTIONS = [
    ("a", _l("Ps. 17 a: menghambat proses penegakan hukum")),
    ("b", _l("Ps. 17 b: mengganggu kepentingan hak kekayaan intelektual dan persaingan usaha")),
    ("c", _l("Ps. 17 c: membahayakan pertahanan dan keamanan negara")),
    ("d", _l("Ps. 17 d: mengungkap kekayaan alam Indonesia")),
    ("e", _l("Ps. 17 e: merugikan ketahanan ekonomi nasional")),
    ("f", _l("Ps. 17 f: merugikan kepentingan hubungan luar negeri")),
    ("g", _l("Ps. 17 g: mengungkap isi akta otentik atau wasiat seseorang")),
    ("h", _l("Ps. 17 h: mengungkap rahasia pribadi")),
    ("i", _l("Ps. 17 i: memorandum atau surat antar badan publik yang dirahasiakan")),
    ("j", _l("Ps. 17 j: tidak boleh diungkap berdasarkan undang-undang")),
]


class AnswerForm(Form):
    """The written notice (pemberitahuan tertulis) of UU 14/2008 Ps. 22(7) and Perki 1/2021."""

    template = SelectField(_l("Templat jawaban"), choices=choices([]), validators=[Optional()])
    held = RadioField(_l("Informasi dikuasai?"), choices=choices([("ya", _l("Ya, dikuasai")),
                                                          ("tidak", _l("Tidak dikuasai"))]),
                      default="ya", validators=[DataRequired()])  # fmt: skip
    decision = RadioField(_l("Keputusan"), choices=choices([("penuh", _l("Diberikan seluruhnya")),
                                                    ("sebagian", _l("Diberikan sebagian")),
                                                    ("ditolak", _l("Ditolak"))]),
                          default="penuh", validators=[DataRequired()])  # fmt: skip
    exemption = SelectField(_l("Dasar pengecualian (Ps. 17)"), choices=choices([("", "—"), *EXEMPTIONS]),
                            validators=[Optional()])  # fmt: skip
    consequence = TextAreaField(_l("Uji konsekuensi"), [Optional(), Length(max=5000)])
    form_of = SelectField(
        _l("Bentuk informasi"), choices=choices([("softcopy", "softcopy"), ("hardcopy", "hardcopy")])
    )
    medium = SelectField(_l("Cara penyampaian"), choices=choices([("langsung", _l("Mengambil langsung")),
                                                         ("kurir", _l("Kurir")), ("pos", _l("Pos")),
                                                         ("faksimili", _l("Faksimili")),
                                                         ("email", _l("E-mail")),
                                                         ("anjungan", _l("Di anjungan"))]))  # fmt: skip
    cost = IntegerField(_l("Biaya (Rp)"), [Optional(), NumberRange(0, 100_000_000)], default=0)
    text = TextAreaField(_l("Jawaban kepada pemohon"), [DataRequired(), Length(max=5000)])
    attachment = FileField(_l("Lampiran (PDF)"), [FileAllowed(["pdf"], _l("Hanya berkas PDF."))])


class DecideForm(Form):
    decision = RadioField(_l("Putusan atasan PPID"), choices=choices([("diterima", _l("Keberatan diterima")),
                                                            ("ditolak", _l("Keberatan ditolak"))]),
                          validators=[DataRequired()])  # fmt: skip
    text = TextAreaField(_l("Alasan putusan"), [DataRequired(), Length(max=5000)])


class TemplateForm(Form):
    kind = SelectField(_l("Jenis"), choices=choices([(SubmissionKind.REQUEST, _l("Permohonan")),
                                                     (SubmissionKind.COMPLAINT, _l("Pengaduan")),
                                                     (SubmissionKind.OBJECTION, _l("Keberatan"))]))  # fmt: skip
    category = StringField(_l("Kategori (kosong: semua)"), [Optional(), Length(max=48)])
    title = StringField(_l("Judul templat"), [DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Isi templat"), [DataRequired(), Length(max=5000)])


TARGETS = _l("Anjungan tujuan (kosong: semua anjungan)")


class DipForm(Form):
    """A DIP entry with the columns of Perki 1/2021 and its category (UU 14/2008 Ps. 9-11, 17)."""

    item_id = StringField(_l("Kode entri"), [DataRequired(), Length(max=100)])
    title = StringField(_l("Judul informasi"), [DataRequired(), Length(max=300)])
    summary = TextAreaField(_l("Ringkasan isi informasi"), [DataRequired(), Length(max=3000)])
    unit = StringField(_l("Pejabat/unit yang menguasai informasi"), [DataRequired(), Length(max=200)])
    responsible = StringField(_l("Penanggung jawab pembuatan/penerbitan"), [DataRequired(), Length(max=200)])
    made = StringField(_l("Waktu dan tempat pembuatan"), [DataRequired(), Length(max=200)])
    formats = SelectMultipleField(_l("Bentuk informasi yang tersedia"),
                                  choices=choices([("softcopy", "softcopy"), ("hardcopy", "hardcopy")]),
                                  validators=[DataRequired()])  # fmt: skip
    retention = StringField(_l("Jangka waktu penyimpanan"), [DataRequired(), Length(max=200)])
    category = SelectField(_l("Kategori"), choices=choices(list(labels.DIP_CATEGORIES.items())))
    reason = TextAreaField(_l("Alasan pengecualian (untuk dikecualikan)"), [Optional(), Length(max=2000)])
    document = SelectField(_l("Dokumen"), choices=choices([]), validators=[Optional()])
    gateways = SelectMultipleField(TARGETS, choices=choices([]), validators=[Optional()])


class DocumentForm(Form):
    title = StringField(_l("Judul dokumen"), [DataRequired(), Length(max=300)])
    file = FileField(_l("Berkas PDF"), [FileAllowed(["pdf"], _l("Hanya berkas PDF."))])
    gateways = SelectMultipleField(TARGETS, choices=choices([]), validators=[Optional()])


class AnnouncementForm(Form):
    item_id = StringField(_l("Kode pengumuman"), [DataRequired(), Length(max=100)])
    title = StringField(_l("Judul"), [DataRequired(), Length(max=300)])
    body = TextAreaField(_l("Isi"), [DataRequired(), Length(max=5000)])
    starts = DateField(_l("Mulai"), [Optional()])
    ends = DateField(_l("Berakhir"), [Optional()])
    urgent = BooleanField(_l("Serta-merta (peringatan penting)"))
    gateways = SelectMultipleField(TARGETS, choices=choices([]), validators=[Optional()])
