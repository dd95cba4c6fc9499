"""Reading aloud ("Dengarkan") and the display modes, through the app with the real espeak-ng.

The kiosk speaks only texts it rendered itself: a key it never registered is a 404, whatever the client asks.
Private pages (a receipt, a status with its answer) are spoken only to their own session and never kept on
disk; the idle reset forgets them. Public passages are cached as WAV files within a size bound.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from gateway.config import Config
from gateway.store import Store
from kiosk.speech import MAX_CHARS, Speech, SpeechBusy, passage_key, readable_text, spell
from tests.kiosk.helpers import GOOD_NIK, complaint_data, csrf, number_on, post, request_data

LISTEN_RE = re.compile(r'id="listen" data-src="([^"]+)"')


def listen_src(page: str) -> str:
    match = LISTEN_RE.search(page)
    assert match, "no Dengarkan button"
    return html.unescape(match.group(1))


def speech_of(app: Flask) -> Speech:
    return app.extensions["anjungan_speech"]  # type: ignore[no-any-return]


def key_of(src: str) -> str:
    return src.rsplit("/", 1)[1].removesuffix(".wav")


def test_home_is_read_aloud_from_its_own_text_and_cached_on_disk(
    app: Flask, client: FlaskClient, kiosk_store: Store, cfg: Config
) -> None:
    page = client.get("/").get_data(as_text=True)
    src = listen_src(page)
    assert src.startswith("/dengarkan/id/")
    passage = speech_of(app).passage(key_of(src))
    assert passage is not None and passage.owner is None
    # the urgent announcement shown above every page is read first, then the page's own text
    assert passage.text.startswith(
        "Pemadaman listrik terencana. Baca selengkapnya. Selamat datang. Silakan sentuh"
    )
    assert "Informasi publik." in passage.text  # the tiles are read
    announcement = next(a for a in kiosk_store.content("announcement") if not a.get("urgent"))
    assert announcement["title"] in passage.text
    assert "Beranda" not in passage.text and "Dengarkan" not in passage.text  # not the header's buttons

    audio = client.get(src)
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert audio.data[:4] == b"RIFF" and audio.data[8:12] == b"WAVE" and len(audio.data) > 20_000
    cached = Path(cfg.data_dir) / "speech" / f"id-{key_of(src)}.wav"
    assert cached.read_bytes() == audio.data
    assert (Path(cfg.data_dir) / "speech").stat().st_mode & 0o777 == 0o700
    with client.get(
        src, headers={"Range": "bytes=0-99"}
    ) as part:  # then streamed from the file, as players ask
        assert part.status_code == 206 and part.data == audio.data[:100]
        assert "max-age=86400" in part.headers["Cache-Control"]


def test_english_pages_are_read_in_english(app: Flask, client: FlaskClient) -> None:
    client.get("/bahasa/en")
    src = listen_src(client.get("/pengumuman").get_data(as_text=True))
    assert src.startswith("/dengarkan/en/")
    passage = speech_of(app).passage(key_of(src))
    assert passage is not None and passage.lang == "en"
    # the urgent announcement shown above every page first, then the page's own heading
    assert passage.text.startswith("Pemadaman listrik terencana. Read more. Announcements.")
    assert client.get(src).data[:4] == b"RIFF"


def test_a_client_cannot_make_the_kiosk_speak_its_own_text(client: FlaskClient) -> None:
    client.get("/")
    for lang in ("id", "en"):
        forged = passage_key(lang, "Teks apa saja dari luar.")
        assert client.get(f"/dengarkan/{lang}/{forged}.wav").status_code == 404
    real = key_of(listen_src(client.get("/").get_data(as_text=True)))
    assert client.get(f"/dengarkan/xx/{real}.wav").status_code == 404  # no such voice
    assert client.get(f"/dengarkan/en/{real}.wav").status_code == 404  # registered in Indonesian only
    assert client.get("/dengarkan/id/..%2Fkiosk.key.wav").status_code == 404


def test_a_receipt_is_read_only_to_its_own_session_and_never_kept(
    app: Flask, client: FlaskClient, cfg: Config
) -> None:
    number = number_on(post(client, "/pengaduan", complaint_data()))
    page = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    src = listen_src(page)
    passage = speech_of(app).passage(key_of(src))
    assert passage is not None and passage.owner is not None
    spelled = spell(number)
    assert spelled in passage.text  # the number is read character by character
    code = re.search(r'id="receipt-code">([^<]+)<', page)
    assert code and spell(code.group(1)) not in passage.text  # a secret is never read aloud

    audio = client.get(src)
    assert audio.status_code == 200 and audio.data[:4] == b"RIFF"
    assert "no-store" in audio.headers["Cache-Control"]
    assert not (Path(cfg.data_dir) / "speech" / f"id-{key_of(src)}.wav").exists()

    other = app.test_client()
    assert other.get(src).status_code == 404  # another citizen at another time
    client.post("/selesai")
    assert client.get(src).status_code == 404  # forgotten at the idle reset
    assert speech_of(app).passage(key_of(src)) is None


def _spoken(app: Flask) -> str:
    """Every passage the kiosk may read now, as one text."""
    return " ".join(p.text for p in speech_of(app)._passages.values())


def test_no_secret_and_no_personal_data_is_read_aloud(app: Flask, client: FlaskClient) -> None:
    data = request_data(telepon="081298765432")
    number = number_on(post(client, "/permohonan", data))
    receipt = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    code = re.search(r'id="receipt-code">([^<]+)<', receipt)
    assert code
    secret = code.group(1).strip()
    passage = speech_of(app).passage(key_of(listen_src(receipt)))
    assert passage is not None and spell(number) in passage.text
    assert "Kode status tercetak di struk." in passage.text  # said instead of the code

    status = client.post("/status", data={"csrf_token": csrf(client, "/status"), "nomor": number,
                                          "kode": secret})  # fmt: skip
    page = status.get_data(as_text=True)
    assert status.status_code == 200 and 'id="status-label"' in page
    assert speech_of(app).passage(key_of(listen_src(page))) is not None
    spoken = _spoken(app)
    compact = re.sub(r"[\s,.-]", "", spoken)
    for private in (secret, GOOD_NIK, "081298765432"):
        plain = re.sub(r"[\s-]", "", private)
        assert plain not in compact and spell(private) not in spoken, private
        assert spell(plain) not in spoken, private

    client.get("/bahasa/en")
    english = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    passage = speech_of(app).passage(key_of(listen_src(english)))
    assert passage is not None and "The status code is printed on your slip." in passage.text
    assert spell(secret) not in passage.text


def test_form_fields_carry_their_label_hint_and_error(app: Flask, client: FlaskClient) -> None:
    page = client.get("/permohonan").get_data(as_text=True)
    nik = re.search(
        r'<input[^>]*data-listen="([^"]+)"[^>]*id="nik"|<input[^>]*id="nik"[^>]*data-listen="([^"]+)"', page
    )
    assert nik
    passage = speech_of(app).passage(key_of(html.unescape(nik.group(1) or nik.group(2))))
    assert passage is not None and passage.text.startswith("NIK") and "Hanya angka." in passage.text
    wrong = post(client, "/permohonan", {"nik": "12345"}).get_data(as_text=True)
    nik = re.search(
        r'<input[^>]*data-listen="([^"]+)"[^>]*id="nik"|<input[^>]*id="nik"[^>]*data-listen="([^"]+)"', wrong
    )
    assert nik
    src = html.unescape(nik.group(1) or nik.group(2))
    passage = speech_of(app).passage(key_of(src))
    assert passage is not None and "NIK harus 16 angka" in passage.text
    assert client.get(src).data[:4] == b"RIFF"
    radios = re.findall(r'<input[^>]*data-listen="([^"]+)"[^>]*name="cara_memperoleh"', wrong) or re.findall(
        r'<input[^>]*name="cara_memperoleh"[^>]*data-listen="([^"]+)"', wrong
    )
    assert len(radios) == 2 and radios[0] != radios[1]


def test_the_survey_is_read_with_its_questions_and_answers(app: Flask, client: FlaskClient) -> None:
    """Someone who cannot read hears the nine questions with the four answer words, and each face's own
    question and word when touched in read-fields mode; the buttons are not read."""
    page = client.get("/survei/permohonan").get_data(as_text=True)
    passage = speech_of(app).passage(key_of(listen_src(page)))
    assert passage is not None and passage.owner is None
    text = passage.text
    assert "Bagaimana layanan kami? Sentuh satu wajah untuk tiap pertanyaan." in text
    assert "Persyaratan. Apakah persyaratan layanan ini sesuai dan jelas? Tidak baik. Kurang baik. Baik. " \
        "Sangat baik." in text  # fmt: skip
    assert text.endswith("Sarana dan prasarana. Apakah anjungan dan tempat layanan ini nyaman? Tidak baik. "
                         "Kurang baik. Baik. Sangat baik.")  # fmt: skip
    assert text.count("Sangat baik.") == 9
    assert "Lewati" not in text and "Kirim penilaian" not in text
    faces = re.findall(r'<input[^>]*data-listen="([^"]+)"[^>]*name="u3"', page) or re.findall(
        r'<input[^>]*name="u3"[^>]*data-listen="([^"]+)"', page
    )
    assert len(faces) == 4
    face = speech_of(app).passage(key_of(html.unescape(faces[3])))
    assert face is not None and face.text == "Waktu penyelesaian. Apakah layanan ini cepat? Sangat baik."
    assert client.get(html.unescape(faces[3])).data[:4] == b"RIFF"

    client.get("/bahasa/en")
    english = client.get("/survei/permohonan").get_data(as_text=True)
    passage = speech_of(app).passage(key_of(listen_src(english)))
    assert passage is not None and passage.lang == "en" and passage.text.count("Very good.") == 9


def test_a_form_marked_for_reading_is_read_without_its_controls() -> None:
    text = readable_text(
        '<form data-read><button>Lewati</button><fieldset><legend><span class="survey-name">U1</span> Jelas?'
        '</legend><label class="survey-answer"><input type="radio" value="1"><svg><title>x</title></svg>'
        "<span>Baik</span></label></fieldset></form><form><label>Nama</label></form>"
    )
    assert text == "U1. Jelas? Baik."


def test_the_page_text_leaves_out_controls_and_spells_codes() -> None:
    text = readable_text(
        '<h1>✔ Judul</h1><p class="lead">Isi satu</p><p data-read-skip>lewati</p>'
        '<form><label>Nama</label><input value="rahasia"><button>Kirim</button></form>'
        "<dl><dt>Status</dt><dd>Diterima</dd></dl><p hidden>tersembunyi</p>"
        '<p data-read-spell>7KQ2M-9XD4H</p><img src="x" alt="Grafik air"><script>x()</script>'
    )
    assert text == "Judul. Isi satu. Status: Diterima. 7 K Q 2 M, 9 X D 4 H. Grafik air."
    secret = readable_text('<p>Kode</p><div data-read-secret="Kode tercetak di struk."><p data-read-spell>7KQ2M</p>'
                           "<p>rahasia</p></div><p data-read-secret>ABC</p><p>Akhir</p>")  # fmt: skip
    assert secret == "Kode. Kode tercetak di struk. Akhir."


def test_the_wav_cache_keeps_within_its_bound(tmp_path: Path) -> None:
    speech = Speech(tmp_path / "speech", max_bytes=200_000)
    keys = [
        speech.register(f"Pengumuman nomor {n}. Kerja bakti di balai desa hari Minggu pagi.", "id")
        for n in range(6)
    ]
    sizes = []
    for key in keys:
        found = speech.audio("id", key, None)
        assert found is not None and found[1]
        sizes.append(len(found[0]))
        assert speech.cached_bytes() <= 200_000
    assert sum(sizes) > 200_000  # the bound was reached: older files went
    assert (tmp_path / "speech" / f"id-{keys[-1]}.wav").exists()
    assert not (tmp_path / "speech" / f"id-{keys[0]}.wav").exists()


def test_display_modes_are_kept_until_the_idle_reset(
    make_app: object, app: Flask, client: FlaskClient
) -> None:
    page = client.get("/pengumuman").get_data(as_text=True)
    assert re.search(r"<html lang=\"id\">", page)
    assert 'id="mode-besar" role="button" data-keep aria-pressed="false"' in page
    reply = client.get("/tampilan/besar/nyala?kembali=/pengumuman")
    assert reply.status_code == 302 and reply.headers["Location"] == "/pengumuman"
    client.get("/tampilan/kontras/nyala")
    page = client.get("/pengumuman").get_data(as_text=True)
    assert '<html lang="id" class="mode-besar mode-kontras">' in page
    assert 'aria-pressed="true"' in page and "/tampilan/besar/mati" in page
    client.get("/tampilan/besar/mati")
    assert '<html lang="id" class="mode-kontras">' in client.get("/").get_data(as_text=True)
    client.get("/tampilan/tidak-ada/nyala")  # unknown modes change nothing
    assert '<html lang="id" class="mode-kontras">' in client.get("/").get_data(as_text=True)
    client.post("/selesai")
    assert '<html lang="id">' in client.get("/").get_data(as_text=True)


def test_the_page_cache_keeps_each_mode_apart(make_app, app: Flask) -> None:  # type: ignore[no-untyped-def]
    cached = make_app(KIOSK_PAGE_CACHE_SECONDS=60.0)
    plain, large = cached.test_client(), cached.test_client()
    large.get("/tampilan/besar/nyala")
    assert 'class="mode-besar"' in large.get("/").get_data(as_text=True)
    assert 'class="mode-besar"' not in plain.get("/").get_data(as_text=True)
    assert 'class="mode-besar"' in large.get("/").get_data(as_text=True)


def test_a_status_with_its_answer_is_read_to_whoever_holds_the_code_only(
    app: Flask, client: FlaskClient, kiosk_store: Store, cfg: Config
) -> None:
    number = number_on(post(client, "/pengaduan", complaint_data()))
    code = re.search(
        r'id="receipt-code">([^<]+)<', client.get(f"/tanda-terima/{number}").get_data(as_text=True)
    )
    assert code
    answer = "Jalan Mrisen diperbaiki minggu depan oleh Dinas PU, kata Pak Budi di nomor 0857."
    kiosk_store.apply_changes(
        [
            {
                "kind": "submission",
                "id": number,
                "op": "upsert",
                "data": {"status": "answered", "answer": answer},
            }
        ],
        "c1",
    )
    holder = app.test_client()  # another device, with the code from the receipt
    page = post(holder, "/status", {"nomor": number, "kode": code.group(1)}).get_data(as_text=True)
    src = listen_src(page)
    passage = speech_of(app).passage(key_of(src))
    assert passage is not None and passage.owner is not None
    assert answer in passage.text and "Sudah dijawab" in passage.text
    assert holder.get(src).data[:4] == b"RIFF"
    assert app.test_client().get(src).status_code == 404
    assert client.get(src).status_code == 404  # the session that made it did not open this page
    assert not list((Path(cfg.data_dir) / "speech").glob(f"*{key_of(src)}*"))
    stranger = app.test_client()  # without the code: the status only, and nothing of the answer is read
    page = stranger.get(f"/status/{number}").get_data(as_text=True)
    passage = speech_of(app).passage(key_of(listen_src(page)))
    assert passage is not None and answer not in passage.text and "Sudah dijawab" in passage.text


def _counting_espeak(folder: Path) -> Path:
    """An espeak-ng that notes each run in ``runs``, says ``started``, and waits for ``go`` when ``hold``
    exists, then runs the real espeak-ng."""
    script = folder / "espeak-ng"
    script.write_text(
        "#!/bin/sh\n"
        f'echo run >> "{folder}/runs"\n'
        f'touch "{folder}/started"\n'
        f'while [ -e "{folder}/hold" ] && [ ! -e "{folder}/go" ]; do sleep 0.05; done\n'
        'exec espeak-ng "$@"\n'
    )
    script.chmod(0o755)
    return script


def _runs(folder: Path) -> int:
    runs = folder / "runs"
    return len(runs.read_text().splitlines()) if runs.exists() else 0


def test_a_private_reading_is_made_once_per_session_one_at_a_time(tmp_path: Path) -> None:
    import threading

    tool = tmp_path / "tool"
    tool.mkdir()
    (tool / "hold").touch()
    speech = Speech(tmp_path / "speech", max_bytes=1_000_000, espeak=str(_counting_espeak(tool)))
    key = speech.register("Nomor pendaftaran Anda tersimpan.", "id", owner="sesi-a")
    first: list[tuple[bytes, bool] | None] = []
    worker = threading.Thread(target=lambda: first.append(speech.audio("id", key, "sesi-a")))
    worker.start()
    started = tool / "started"
    for _ in range(6000):  # espeak-ng has started (bounded: a broken tool must not hang the suite)
        if started.exists():
            break
        threading.Event().wait(0.01)
    assert started.exists()
    try:
        speech.audio("id", key, "sesi-a")
        raise AssertionError("a second synthesis of one session ran")
    except SpeechBusy:
        pass
    (tool / "go").touch()
    worker.join(timeout=120)
    assert first and first[0] is not None and first[0][0][:4] == b"RIFF" and not first[0][1]
    again = speech.audio("id", key, "sesi-a")
    assert again is not None and again[0] == first[0][0]  # from memory
    assert _runs(tool) == 1
    assert speech.private_bytes() == len(first[0][0])
    assert not (tmp_path / "speech").exists()  # never on disk
    assert speech.forget("sesi-a") == 1 and speech.private_bytes() == 0
    assert speech.audio("id", key, "sesi-a") is None


def test_the_private_audio_in_memory_keeps_within_its_bound(tmp_path: Path) -> None:
    speech = Speech(tmp_path / "speech", max_bytes=1_000_000, private_bytes=300_000)
    keys = [speech.register(f"Status nomor {n}. Diterima, menunggu diproses.", "id", owner=f"s{n}")
            for n in range(4)]  # fmt: skip
    for n, key in enumerate(keys):
        found = speech.audio("id", key, f"s{n}")
        assert found is not None
        assert speech.private_bytes() <= 300_000
    assert speech.private_bytes() > 0


def test_a_huge_page_is_read_only_to_a_bound(tmp_path: Path) -> None:
    speech = Speech(tmp_path / "speech", max_bytes=1_000_000)
    text = " ".join(f"Kalimat nomor {n} dari halaman yang sangat panjang." for n in range(2000))
    passage = speech.passage(speech.register(text, "id"))
    assert passage is not None and len(text) > 50_000
    assert passage.text.endswith(" ...") and len(passage.text) <= MAX_CHARS + len(" ...")
    assert passage.text.startswith("Kalimat nomor 0 dari")
    words = speech.passage(speech.register("kata " * 5000, "id"))
    assert words is not None and words.text.endswith("kata ...") and len(words.text) <= MAX_CHARS + 4


def test_the_reading_route_is_rate_limited_per_client(make_app, kiosk_store: Store, cfg: Config) -> None:  # type: ignore[no-untyped-def]
    app = make_app(KIOSK_LIMIT_LISTEN="3 per minute")
    client = app.test_client()
    src = listen_src(client.get("/").get_data(as_text=True))

    def status(reply: Any) -> int:
        with reply:  # a cached reading is streamed from its file
            return int(reply.status_code)

    assert [status(client.get(src)) for _ in range(3)] == [200, 200, 200]
    with client.get(src) as refused:
        assert refused.status_code == 429 and "Retry-After" in refused.headers
    other = {"REMOTE_ADDR": "10.0.0.9"}  # another client has its own budget
    assert status(app.test_client().get(src, environ_base=other)) == 200


def test_a_warning_shown_above_the_page_is_read_first(app: Flask, client: FlaskClient, feed: Any) -> None:
    """A flood warning sits above every page: Dengarkan reads it before the page's own text."""
    feed("dmk-wl-01", {"water_cm": 180.0})
    page = client.get("/").get_data(as_text=True)
    assert "PERINGATAN BANJIR" in page
    passage = speech_of(app).passage(key_of(listen_src(page)))
    assert passage is not None
    assert passage.text.index("PERINGATAN BANJIR") < passage.text.index("Selamat datang")
    assert "PERINGATAN BANJIR. Tinggi air 180 cm" in passage.text  # its heading a sentence of its own


def test_the_receipt_read_aloud_says_whether_the_code_was_printed(make_app, kiosk_store: Store) -> None:  # type: ignore[no-untyped-def]
    """Printed: the code is on the slip; no printer, or printing failed: the code is on the screen, to note.
    Never the code itself, in either language."""
    said = {
        "printed": ("Kode status tercetak di struk.", "The status code is printed on your slip."),
        "none": ("Kode status tidak tercetak. Kode itu tampil di layar: catat atau foto sekarang.",
                 "The status code was not printed. It is shown on the screen: write it down or take a photo of "
                 "it now."),
    }  # fmt: skip
    for printer, case in ((None, "printed"), ("", "none"), ("file:/nonexistent/usb/lp0", "none")):
        app = make_app() if printer is None else make_app(KIOSK_PRINTER=printer)
        client = app.test_client()
        number = number_on(post(client, "/pengaduan", complaint_data()))
        for lang, text in zip(("id", "en"), said[case], strict=True):
            client.get(f"/bahasa/{lang}")
            page = client.get(f"/tanda-terima/{number}").get_data(as_text=True)
            code = re.search(r'id="receipt-code">([^<]+)<', page)
            assert code, (printer, lang)
            assert ('<p class="warn">' in page) == bool(printer), (printer, lang)  # the printer failed
            passage = speech_of(app).passage(key_of(listen_src(page)))
            assert passage is not None and text in passage.text, (printer, lang, passage and passage.text)
            other = said["none" if case == "printed" else "printed"][0 if lang == "id" else 1]
            assert other not in passage.text and spell(code.group(1)) not in passage.text
            assert re.sub(r"-", "", code.group(1)) not in re.sub(r"[\s,.-]", "", passage.text)
