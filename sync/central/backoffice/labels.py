"""The words officers read for the codes a submission and a case carry, in the page's language.

A kiosk stores codes, not labels (kiosk/forms.py): field keys such as ``cara_memperoleh``, choices such as
``melihat`` or ``jalan-rusak``, and an objection's grounds as the letters of UU 14/2008 Ps. 35(1). The back office
shows each with the kiosk form's own Indonesian label (English when the officer chose it), and an objection's
grounds as Ps. 35(1) names them. The central never imports the kiosk, so the labels are written out here; an
unknown code is shown as it is. The templates reach these functions as ``labels`` (``labels.field(key)``).
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from gateway.vocabulary import DipCategory

# The kiosk forms' fields (kiosk/forms.py PermohonanForm, PengaduanForm, KeberatanForm and the identity fields)
FIELDS: dict[str, Any] = {
    "rincian": _l("Rincian informasi yang dibutuhkan"),
    "tujuan": _l("Tujuan penggunaan informasi"),
    "cara_memperoleh": _l("Cara memperoleh informasi"),
    "format_salinan": _l("Bentuk salinan"),
    "cara_salinan": _l("Cara mendapatkan salinan"),
    "klasifikasi": _l("Jenis laporan"),
    "kategori": _l("Kategori"),
    "judul": _l("Judul laporan"),
    "isi": _l("Isi laporan"),
    "tanggal_kejadian": _l("Tanggal kejadian"),
    "lokasi": _l("Lokasi kejadian"),
    "anonim": _l("Anonim"),
    "rahasia": _l("Rahasia"),
    "nomor_permohonan": _l("Nomor pendaftaran permohonan"),
    "alasan": _l("Alasan keberatan"),
    "uraian": _l("Uraian keberatan"),
    "nama": _l("Nama lengkap"),
    "nik": _l("NIK"),
    "alamat": _l("Alamat"),
    "pekerjaan": _l("Pekerjaan"),
    "telepon": _l("Nomor telepon / HP"),
    "email": _l("E-mail"),
}

# SP4N-LAPOR!'s village complaint categories, as the kiosk offers them (kiosk/forms.py CATEGORIES)
COMPLAINT_CATEGORIES: dict[str, Any] = {
    "jalan-rusak": _l("Jalan rusak"),
    "sampah": _l("Sampah"),
    "banjir": _l("Banjir"),
    "pelayanan-publik": _l("Pelayanan publik"),
    "bansos": _l("Bantuan sosial (bansos)"),
    "adminduk": _l("Administrasi kependudukan"),
    "kesehatan": _l("Kesehatan"),
    "pendidikan": _l("Pendidikan"),
    "listrik-air": _l("Listrik / air bersih"),
    "pungli": _l("Pungutan liar (pungli)"),
    "dana-desa": _l("Dana desa"),
    "lainnya": _l("Lainnya"),
}

# UU 14/2008 Ps. 35(1) a-g: the grounds of an objection, in the law's words
OBJECTION_GROUNDS: dict[str, Any] = {
    "a": _l("Ps. 35(1) a: penolakan atas permintaan informasi berdasarkan alasan pengecualian (Ps. 17)"),
    "b": _l("Ps. 35(1) b: tidak disediakannya informasi berkala (Ps. 9)"),
    "c": _l("Ps. 35(1) c: tidak ditanggapinya permintaan informasi"),
    "d": _l("Ps. 35(1) d: permintaan informasi ditanggapi tidak sebagaimana yang diminta"),
    "e": _l("Ps. 35(1) e: tidak dipenuhinya permintaan informasi"),
    "f": _l("Ps. 35(1) f: pengenaan biaya yang tidak wajar"),
    "g": _l("Ps. 35(1) g: penyampaian informasi yang melebihi waktu yang diatur dalam UU 14/2008"),
}

# the choices of the kiosk's fields, by field
VALUES: dict[str, dict[str, Any]] = {
    "cara_memperoleh": {"melihat": _l("Melihat / membaca / mendengarkan / mencatat"),
                        "salinan": _l("Mendapatkan salinan")},
    "format_salinan": {"softcopy": _l("Softcopy (berkas digital)"), "hardcopy": _l("Hardcopy (cetak)")},
    "cara_salinan": {"langsung": _l("Mengambil langsung"), "kurir": _l("Kurir"), "pos": _l("Pos"),
                     "faksimili": _l("Faksimili"), "email": _l("E-mail")},
    "klasifikasi": {"pengaduan": _l("Pengaduan"), "aspirasi": _l("Aspirasi / usulan"),
                    "permintaan-informasi": _l("Permintaan informasi")},
    "kategori": COMPLAINT_CATEGORIES,
    "alasan": OBJECTION_GROUNDS,
}  # fmt: skip

# UU 14/2008 Ps. 9-11 and 17: the categories of public information (a DIP entry's)
DIP_CATEGORIES: dict[str, Any] = {
    DipCategory.BERKALA: _l("Berkala"),
    DipCategory.SERTA_MERTA: _l("Serta-merta"),
    DipCategory.SETIAP_SAAT: _l("Setiap saat"),
    DipCategory.DIKECUALIKAN: _l("Dikecualikan"),
}

# the steps a case's history records (cases.py ``_note``)
HISTORY: dict[str, Any] = {
    "verifikasi": _l("Diverifikasi"),
    "disposisi": _l("Disposisi ke OPD"),
    "perpanjang": _l("Jangka waktu diperpanjang"),
    "jawab": _l("Pemberitahuan tertulis dikirim"),
    "tanggapan": _l("Tanggapan dikirim"),
    "tolak": _l("Laporan ditolak"),
    "tunda": _l("Ditunda"),
    "lanjutkan": _l("Dilanjutkan"),
    "putusan": _l("Keberatan diputus"),
    "selesai": _l("Ditutup"),
}

# the actions the audit trail records (audit.record and opendata.audit.record calls), as the audit page shows them
ACTIONS: dict[str, Any] = {
    "login": _l("Masuk"),
    "login-refused": _l("Masuk ditolak"),
    "logout": _l("Keluar"),
    "user-add": _l("Pengguna ditambahkan"),
    "user-reset-password": _l("Kata sandi diatur ulang"),
    "user-unlock": _l("Kunci akun dibuka"),
    "user-aktif": _l("Akun diaktifkan"),
    "user-nonaktif": _l("Akun dinonaktifkan"),
    "audit-export": _l("Jejak audit diunduh"),
    "export-personal": _l("Data pribadi diekspor"),
    "opd-save": _l("OPD disimpan"),
    "day-off-add": _l("Hari libur ditambahkan"),
    "day-off-remove": _l("Hari libur dihapus"),
    "template-add": _l("Templat ditambahkan"),
    "template-remove": _l("Templat dihapus"),
    "view-personal": _l("Data pribadi dilihat"),
    "view-attachment": _l("Lampiran dibuka"),
    "attach": _l("Lampiran ditambahkan"),
    "verify": _l("Berkas diverifikasi"),
    "assign": _l("Disposisi ke OPD"),
    "extend": _l("Jangka waktu diperpanjang"),
    "answer": _l("Pemberitahuan tertulis dikirim"),
    "respond": _l("Tanggapan dikirim"),
    "refuse": _l("Laporan ditolak"),
    "defer": _l("Berkas ditunda"),
    "resume": _l("Berkas dilanjutkan"),
    "decide": _l("Keberatan diputus"),
    "close": _l("Berkas ditutup"),
    "auto-close": _l("Berkas ditutup otomatis"),
    "deadline-recompute": _l("Tenggat dihitung ulang"),
    "sms-retry": _l("SMS dikirim ulang"),
    "publish-dip": _l("DIP dipublikasikan"),
    "publish-announcement": _l("Pengumuman dipublikasikan"),
    "publish-document": _l("Dokumen dipublikasikan"),
    "withdraw-dip": _l("DIP ditarik"),
    "withdraw-announcement": _l("Pengumuman ditarik"),
    "withdraw-document": _l("Dokumen ditarik"),
    "alert-ack": _l("Peringatan diakui"),
    "fleet-place": _l("Tempat anjungan/node diatur"),
    "fleet-node": _l("Node diatur"),
    "fleet-forget-node": _l("Node dihapus"),
    "open311-hide": _l("Pengaduan ditahan dari data terbuka"),
    "open311-show": _l("Pengaduan ditampilkan lagi di data terbuka"),
    "set-place": _l("Tempat data terbuka diatur"),
    "publish-ckan": _l("Data dipublikasikan ke CKAN"),
}

# the roles (roles.py ROLES), as the users page offers them
ROLES: dict[str, Any] = {
    "admin": _l("admin — pengelola sistem (pengguna, anjungan, pengaturan)"),
    "ppid": _l("ppid — PPID Utama (semua berkas, publikasi)"),
    "pelaksana": _l("pelaksana — petugas OPD (berkas yang didisposisikan ke OPD-nya)"),
    "atasan": _l("atasan — Atasan PPID (memutus keberatan)"),
    "teknisi": _l("teknisi — teknisi lapangan (armada, tanpa data warga)"),
}


def field(key: str) -> str:
    """The label of a submission's field ``key`` (public or personal); the key itself when unknown."""
    label = FIELDS.get(key)
    return key if label is None else str(label)


def ordered(fields: dict[str, Any]) -> list[tuple[str, Any]]:
    """A submission's fields in the order of the kiosk's form (unknown keys last, by name)."""
    rank = {key: index for index, key in enumerate(FIELDS)}
    return sorted(fields.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))


def values(key: str, value: Any) -> list[str]:
    """What field ``key`` holds, as words: each code its label (a list holds several, e.g. an objection's
    grounds); other values as they are. Empty values give []."""
    items = value if isinstance(value, list | tuple) else [value]
    words = VALUES.get(key, {})
    return [str(words.get(str(item), item)) for item in items if item not in (None, "")]


def category(kind: str, code: str | None) -> str:
    """A case's category as words: a complaint's category, an objection's grounds (comma-separated letters of
    Ps. 35(1), as intake.py stores them) joined by "; "; "" for none."""
    if not code:
        return ""
    if kind == "objection":
        return "; ".join(str(OBJECTION_GROUNDS.get(part, part)) for part in code.split(","))
    return str(COMPLAINT_CATEGORIES.get(code, code))


def history(action: str) -> str:
    """A step of a case's history as words."""
    label = HISTORY.get(action)
    return action if label is None else str(label)


def dip_category(code: str) -> str:
    """A DIP entry's category as words."""
    label = DIP_CATEGORIES.get(code)
    return code if label is None else str(label)


def role(code: str) -> str:
    """A role as words, with what it is for."""
    label = ROLES.get(code)
    return code if label is None else str(label)


def action(code: str) -> str:
    """An audit entry's action as words (``open311-hide`` -> "Pengaduan ditahan dari data terbuka"); an unknown
    code as it is."""
    label = ACTIONS.get(code)
    return code if label is None else str(label)


# What an SMS failure means for the officer, by its kind (sync/central/sms/senders.py KINDS; docs/sms.md,
# "When an SMS does not go out"); the raw text is shown beside it for the technician.
SMS_FAILURES: dict[str, Any] = {
    "port": _l(
        "Modem tidak ditemukan atau portnya sedang dipakai program lain: periksa kabel USB modem dan "
        "pengaturan SMS_MODEM_PORT."
    ),
    "modem-silent": _l(
        "Modem tidak menjawab tepat waktu: cabut lalu pasang lagi modem, atau nyalakan ulang."
    ),
    "modem-refused": _l("Modem menolak perintah: periksa modem dan kartu SIM-nya."),
    "network": _l("Kartu SIM atau jaringan operator menolak SMS ini."),
    "gateway-unreachable": _l(
        "Gateway SMS tidak dapat dihubungi (alamat salah, server mati atau tidak ada "
        "jaringan): SMS belum terkirim dan akan dicoba lagi."
    ),
    "gateway-refused": _l(
        "Gateway SMS menolak pesan ini (periksa token, pulsa/kuota dan pengaturannya): SMS belum terkirim."
    ),
    "maybe-sent": _l(
        "SMS mungkin sudah terkirim: pesan sudah diserahkan tetapi tidak ada konfirmasi. Tidak "
        "dikirim ulang otomatis; kirim ulang hanya jika warga belum menerimanya."
    ),
    "interrupted": _l(
        "Pengiriman terputus (pengirim SMS berhenti): SMS mungkin sudah terkirim. Kirim ulang "
        "hanya jika warga belum menerimanya."
    ),
    "capped": _l("Batas SMS harian untuk nomor ini tercapai: SMS dikirim besok."),
    "no-number": _l("Nomor HP warga sudah tidak ada (data pribadi dihapus)."),
    "other": _l("Pengiriman gagal karena kesalahan lain: lihat rincian teknis."),
}
# the "+CMS ERROR: <n>" codes an officer can act on (3GPP TS 27.005, 3.2.5)
CMS_CODES: dict[int, Any] = {
    310: _l("kartu SIM tidak terpasang"),
    311: _l("kartu SIM meminta PIN"),
    313: _l("kartu SIM rusak"),
    314: _l("kartu SIM sibuk"),
    315: _l("kartu SIM salah"),
    322: _l("memori SMS penuh"),
    330: _l("nomor pusat SMS (SMSC) tidak dikenal"),
    331: _l("tidak ada layanan jaringan (sinyal)"),
    332: _l("jaringan tidak menjawab tepat waktu"),
}
_CMS = re.compile(r"\+CMS ERROR: ?(\d+)")


def sms_kind(kind: str | None, detail: str | None) -> str:
    """The kind of an SMS failure: ``kind`` as the worker stored it, else (a message that failed before the
    kinds were kept) guessed from the raw text ``detail``; ``"other"`` when nothing fits."""
    if kind in SMS_FAILURES:
        return str(kind)
    text = detail or ""
    for word, guessed in (("interrupted", "interrupted"), ("may have been sent", "maybe-sent"),
                          ("+CMS ERROR", "network"), ("cannot be opened", "port"), ("port failed", "port"),
                          ("did not answer", "modem-silent"), ("no '>' prompt", "modem-silent"),
                          ("modem", "modem-refused"), ("cannot be reached", "gateway-unreachable"),
                          ("SMS gateway answered", "gateway-refused"), ("daily cap", "capped"),
                          ("no phone number", "no-number")):  # fmt: skip
        if word in text:
            return guessed
    return "other"


def sms_failure(kind: str | None, detail: str | None) -> str:
    """What an SMS failure of ``kind`` (raw text ``detail``, already free of the number) means, in the page's
    language; a ``+CMS ERROR: <n>`` adds the code and, when known, what it means."""
    found = sms_kind(kind, detail)
    said = str(SMS_FAILURES[found])
    code = _CMS.search(detail or "") if found == "network" else None
    if code:
        meaning = CMS_CODES.get(int(code.group(1)))
        said += " " + (_("Kode %(code)s: %(meaning)s.", code=code.group(1), meaning=meaning) if meaning
                       else _("Kode %(code)s.", code=code.group(1)))  # fmt: skip
    return said
