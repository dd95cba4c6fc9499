"""Realistic sample public information: what ``anjungan demo`` publishes at its central (``anjungan central
publish-sample``), and what ``anjungan init --sample-content`` (and the kiosk's tests) seed straight into a store
that has not synced yet.

The content has the shapes the central sends: ``dip`` entries (the Daftar Informasi Publik, every category,
exempt entries with their Ps. 17 ground), ``document`` records whose small PDFs (:func:`documents`) are written
at seed time into ``<data_dir>/files/<sha256>``, and ``announcement`` records (one urgent). The office is a
fictional but typical kecamatan in Kabupaten Demak. The module is pure data (it imports only
:mod:`gateway.private`), so that the central may read it too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from gateway import private
from gateway.config import Config

OFFICE = "Kecamatan Wonosalam"


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]], title: str) -> bytes:
    """A minimal valid PDF (A4, Helvetica) with one text block per page; lines are ASCII."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for number, lines in enumerate(pages, start=1):
        ops = [
            "BT",
            "/F1 20 Tf",
            "56 780 Td",
            "24 TL",
            f"({_pdf_text(lines[0])}) Tj",
            "/F1 12 Tf",
            "18 TL",
            "T*",
        ]
        ops += [f"T* ({_pdf_text(line)}) Tj" for line in lines[1:]]
        ops += ["ET", "BT", "/F1 9 Tf", "56 40 Td", f"({_pdf_text(f'{title} - halaman {number}')}) Tj", "ET"]
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {page_ids[number - 1] + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for index, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % index + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


_DOCUMENTS: dict[str, tuple[str, str, list[list[str]]]] = {
    "profil-kecamatan": (
        "Profil Kecamatan Wonosalam 2025",
        "profil-kecamatan-wonosalam-2025.pdf",
        [
            [
                "Profil Kecamatan Wonosalam 2025",
                "Kabupaten Demak, Provinsi Jawa Tengah",
                "",
                "Luas wilayah: 57,88 km2, terdiri atas 21 desa.",
                "Jumlah penduduk (semester II 2024): 74.512 jiwa.",
                "Mata pencaharian utama: pertanian padi, perdagangan, industri rumah tangga.",
                "",
                "Visi: Terwujudnya pelayanan publik yang cepat, terbuka dan ramah.",
                "Misi: 1. Meningkatkan kualitas pelayanan administrasi.",
                "      2. Membuka akses informasi publik bagi seluruh warga.",
                "      3. Mendorong kesiapsiagaan bencana di tingkat desa.",
            ],
            [
                "Sarana dan prasarana",
                "",
                "Puskesmas: 2, Puskesmas pembantu: 5, Posyandu: 86.",
                "Sekolah dasar/MI: 48, SMP/MTs: 12, SMA/SMK/MA: 6.",
                "Jalan kabupaten: 38 km; jalan desa: 214 km.",
                "Sungai utama: Sungai Tuntang (rawan banjir pada musim hujan).",
                "",
                "Kontak PPID Kecamatan: kantor kecamatan, Senin-Jumat 08.00-15.00 WIB.",
            ],
        ],  # fmt: skip
    ),
    "maklumat-pelayanan": (
        "Maklumat Pelayanan Informasi Publik",
        "maklumat-pelayanan.pdf",
        [
            [
                "Maklumat Pelayanan",
                "",
                "Dengan ini kami menyatakan sanggup menyelenggarakan pelayanan",
                "informasi publik sesuai standar pelayanan yang telah ditetapkan,",
                "dan apabila tidak menepati janji ini, kami siap menerima sanksi",
                "sesuai peraturan perundang-undangan yang berlaku.",
                "",
                "Permohonan informasi dijawab paling lambat 10 hari kerja,",
                "dan dapat diperpanjang paling lama 7 hari kerja.",
                "",
                "Wonosalam, 2 Januari 2025",
                "Camat Wonosalam selaku Atasan PPID",
            ],
        ],  # fmt: skip
    ),
    "jalur-evakuasi": (
        "Jalur Evakuasi dan Titik Kumpul Banjir",
        "jalur-evakuasi-banjir.pdf",
        [
            [
                "Jalur Evakuasi dan Titik Kumpul Banjir",
                "",
                "Titik kumpul 1: Lapangan Desa Kalianyar (dataran tinggi).",
                "Titik kumpul 2: Balai Desa Mrisen.",
                "Titik kumpul 3: SMP Negeri 1 Wonosalam.",
                "",
                "Bila sirene atau peringatan di anjungan menyala:",
                "1. Matikan listrik rumah dari MCB.",
                "2. Bawa dokumen penting dan obat-obatan.",
                "3. Dahulukan lansia, anak-anak dan penyandang disabilitas.",
                "4. Ikuti arahan relawan dan petugas BPBD.",
                "",
                "Posko BPBD Demak: (0291) 685 000 - Call center darurat: 112",
            ],
        ],  # fmt: skip
    ),
}


def _document_bytes() -> dict[str, bytes]:
    return {key: make_pdf(pages, title) for key, (title, _name, pages) in _DOCUMENTS.items()}


_BYTES = _document_bytes()
_SHA = {key: hashlib.sha256(data).hexdigest() for key, data in _BYTES.items()}


def _dip(key: str, category: str, title: str, summary: str, **extra: Any) -> dict[str, Any]:
    data = {
        "category": category,
        "title": title,
        "summary": summary,
        "unit": extra.get("unit", "Sekretariat Kecamatan"),
        "responsible": extra.get("responsible", "Sekretaris Camat"),
        "made": extra.get("made", "2025, Kantor Kecamatan Wonosalam"),
        "formats": extra.get("formats", ["softcopy", "hardcopy"]),
        "retention": extra.get("retention", "5 tahun"),
        "document": _SHA[extra["doc"]] if "doc" in extra else None,
        "reason": extra.get("reason"),
    }
    return {"kind": "dip", "id": key, "op": "upsert", "data": data}


_DIP = [
    _dip("dip-001", "berkala", "Profil Kecamatan Wonosalam",
         "Luas wilayah, jumlah desa dan penduduk, visi-misi, sarana prasarana.", doc="profil-kecamatan"),
    _dip("dip-002", "berkala", "Struktur organisasi dan pejabat kecamatan",
         "Bagan organisasi, nama dan jabatan pejabat struktural beserta tugas pokoknya."),
    _dip("dip-003", "berkala", "Rencana Kerja (Renja) Kecamatan 2025",
         "Program dan kegiatan tahun 2025 beserta target kinerjanya.", unit="Subbagian Perencanaan dan Keuangan"),
    _dip("dip-004", "berkala", "Dokumen Pelaksanaan Anggaran (DPA) 2025",
         "Rincian anggaran belanja kecamatan per program dan kegiatan.", unit="Subbagian Perencanaan dan Keuangan"),
    _dip("dip-005", "berkala", "Laporan realisasi anggaran 2024",
         "Realisasi pendapatan dan belanja tahun anggaran 2024.", unit="Subbagian Perencanaan dan Keuangan",
         retention="10 tahun"),
    _dip("dip-006", "berkala", "Laporan Kinerja Instansi Pemerintah (LKjIP) 2024",
         "Capaian indikator kinerja utama kecamatan tahun 2024."),
    _dip("dip-007", "berkala", "Laporan layanan informasi publik 2024",
         "Jumlah permohonan, waktu pemenuhan, permohonan ditolak dan alasannya.", unit="PPID Pelaksana Kecamatan",
         responsible="PPID Pelaksana"),
    _dip("dip-008", "berkala", "Data kependudukan per desa, semester II 2024",
         "Jumlah penduduk menurut desa, jenis kelamin dan kelompok umur (agregat, tanpa data pribadi).",
         unit="Seksi Pemerintahan", formats=["softcopy"]),
    _dip("dip-009", "berkala", "Jadwal Musrenbang Kecamatan 2026",
         "Waktu, tempat dan tahapan musyawarah perencanaan pembangunan.", unit="Seksi Pemberdayaan Masyarakat"),
    _dip("dip-010", "serta-merta", "Peringatan dini banjir Sungai Tuntang",
         "Tinggi muka air dari sensor di jembatan Wonosalam, status siaga dan langkah yang harus dilakukan.",
         unit="Seksi Ketenteraman dan Ketertiban", responsible="Kasi Trantib", retention="1 tahun"),
    _dip("dip-011", "serta-merta", "Jalur evakuasi dan titik kumpul banjir",
         "Peta jalur evakuasi, titik kumpul di setiap desa dan nomor darurat.", doc="jalur-evakuasi",
         unit="Seksi Ketenteraman dan Ketertiban", responsible="Kasi Trantib"),
    _dip("dip-012", "serta-merta", "Pemadaman listrik terencana",
         "Jadwal pemeliharaan jaringan dari PLN ULP Demak yang berdampak pada desa-desa di kecamatan.",
         formats=["softcopy"], retention="3 bulan"),
    _dip("dip-013", "serta-merta", "Kewaspadaan demam berdarah (DBD)",
         "Jumlah kasus per desa, jadwal fogging dan gerakan 3M Plus.", unit="Puskesmas Wonosalam",
         responsible="Kepala Puskesmas"),
    _dip("dip-014", "setiap-saat", "Daftar Informasi Publik (DIP) Kecamatan",
         "Daftar seluruh informasi publik yang dikuasai kecamatan beserta kategorinya.",
         unit="PPID Pelaksana Kecamatan", responsible="PPID Pelaksana"),
    _dip("dip-015", "setiap-saat", "Maklumat dan standar pelayanan informasi publik",
         "Janji layanan, waktu pemenuhan permohonan, biaya (gratis) dan tata cara keberatan.",
         doc="maklumat-pelayanan", unit="PPID Pelaksana Kecamatan", responsible="Camat"),
    _dip("dip-016", "setiap-saat", "SOP pelayanan administrasi kependudukan",
         "Syarat dan alur layanan KTP-el, Kartu Keluarga, akta dan surat pindah di kecamatan.",
         unit="Seksi Pelayanan Umum"),
    _dip("dip-017", "setiap-saat", "Keputusan Camat tentang PPID Pelaksana",
         "Penunjukan PPID Pelaksana dan tim pengelola informasi kecamatan.", retention="Permanen"),
    _dip("dip-018", "setiap-saat", "Rekapitulasi penyaluran BLT Dana Desa 2025",
         "Jumlah keluarga penerima dan nilai penyaluran per desa (agregat).", unit="Seksi Kesejahteraan Sosial"),
    _dip("dip-019", "setiap-saat", "Perjanjian kerja sama kecamatan dengan pihak ketiga",
         "Daftar dan salinan perjanjian kerja sama yang sedang berlaku.", formats=["hardcopy"]),
    _dip("dip-020", "dikecualikan", "Data pribadi pemohon layanan kependudukan",
         "NIK, Kartu Keluarga dan dokumen identitas warga yang diserahkan saat layanan.",
         unit="Seksi Pelayanan Umum", formats=[], reason="UU 14/2008 Ps. 17 huruf h: mengungkap rahasia pribadi."),
    _dip("dip-021", "dikecualikan", "Dokumen evaluasi penawaran pengadaan yang sedang berjalan",
         "Dokumen penawaran peserta dan hasil evaluasi sebelum pengumuman pemenang.",
         unit="Pejabat Pengadaan", formats=[],
         reason="UU 14/2008 Ps. 17 huruf b: mengganggu perlindungan persaingan usaha tidak sehat."),
    _dip("dip-022", "dikecualikan", "Rekam medis dan hasil pemeriksaan kesehatan pegawai",
         "Riwayat dan kondisi kesehatan aparatur kecamatan.", formats=[],
         reason="UU 14/2008 Ps. 17 huruf h angka 2: riwayat, kondisi dan perawatan kesehatan seseorang."),
]  # fmt: skip

_DOCS = [
    {
        "kind": "document",
        "id": _SHA[key],
        "op": "upsert",
        "data": {
            "title": title,
            "sha256": _SHA[key],
            "size": len(_BYTES[key]),
            "mime": "application/pdf",
            "filename": filename,
        },
    }  # fmt: skip
    for key, (title, filename, _pages) in _DOCUMENTS.items()
]


def _announcement(key: str, title: str, body: str, *, urgent: bool = False, **dates: Any) -> dict[str, Any]:
    data = {
        "title": title,
        "body": body,
        "starts": dates.get("starts"),
        "ends": dates.get("ends"),
        "urgent": urgent,
    }
    return {"kind": "announcement", "id": key, "op": "upsert", "data": data}


_ANNOUNCEMENTS = [
    _announcement("ann-001", "Selamat datang di Anjungan Informasi Publik",
                  "Di sini Anda dapat membaca informasi publik, mengajukan permohonan informasi, menyampaikan "
                  "pengaduan, dan memeriksa statusnya. Layanan ini gratis."),
    _announcement("ann-002", "Pemadaman listrik terencana",
                  "PLN ULP Demak memberitahukan pemeliharaan jaringan di Desa Kalianyar, Mrisen dan Wonosalam. "
                  "Listrik padam sekitar pukul 09.00-14.00 WIB. Siapkan penerangan cadangan.", urgent=True),
    _announcement("ann-003", "Perekaman KTP-el keliling",
                  "Perekaman KTP-el bagi warga yang berusia 17 tahun dan lansia dilayani di balai desa sesuai "
                  "jadwal yang diumumkan oleh desa. Bawa fotokopi Kartu Keluarga."),
    _announcement("ann-004", "Musrenbang Kecamatan",
                  "Usulan pembangunan dari desa diterima paling lambat akhir bulan ini melalui kantor desa."),
]  # fmt: skip

SAMPLE_CHANGES: list[dict[str, Any]] = [*_DOCS, *_DIP, *_ANNOUNCEMENTS]


def documents() -> dict[str, bytes]:
    """The sample documents' PDFs by sha256 (the ``id`` of their ``document`` change in :data:`SAMPLE_CHANGES`)."""
    return {_SHA[key]: data for key, data in _BYTES.items()}


def write_documents(data_dir: Path) -> int:
    """Write the sample PDFs to ``<data_dir>/files/<sha256>``; returns how many were written."""
    files = Path(data_dir) / "files"
    private.ensure_dir(files)
    for key, data in _BYTES.items():
        target = files / _SHA[key]
        if not target.exists():
            tmp = target.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(target)
    return len(_BYTES)


def seed(store: Any, cfg: Config) -> int:
    """Write the sample documents and apply the content through the path content from the central takes."""
    write_documents(cfg.data_dir)
    current = store.get_meta("changes_cursor") or ""
    store.apply_changes(SAMPLE_CHANGES, current)
    return len(SAMPLE_CHANGES)
