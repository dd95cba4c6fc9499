"""Reading aloud pages of live values (the conditions page, a flood warning's water level), with the real
espeak-ng: their text changes with every reading, so their audio is kept in memory only, within its bound, and
never written to the SD card; and the audio the kiosk sends is the compact WAV (11025 Hz, 8-bit), which a real
Chromium plays."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from gateway.config import Config
from gateway.store import Store
from kiosk.speech import RATE_HZ, Speech, compact_wav
from tests.fixtures.wsgi import LiveServer
from tests.kiosk.test_speech import _counting_espeak, _runs, key_of, listen_src, speech_of


def _files(cfg: Config) -> list[Path]:
    folder = Path(cfg.data_dir) / "speech"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_the_conditions_page_is_read_from_memory_and_never_written_to_disk(
    app: Flask, feed: Callable[..., None], cfg: Config
) -> None:
    feed("dmk-pw-01", {"mains_v": 221.0, "power_factor": 0.92})
    client = app.test_client()
    src = listen_src(client.get("/kondisi").get_data(as_text=True))
    passage = speech_of(app).passage(key_of(src))
    assert passage is not None and passage.volatile and passage.owner is None and "221" in passage.text
    audio = client.get(src)
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert audio.headers["Cache-Control"] == "private, no-store"  # nor kept in the browser's disk cache
    with wave.open(io.BytesIO(audio.data)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (RATE_HZ, 1, 1)
        assert w.getnframes() > RATE_HZ  # more than a second of speech
    assert _files(cfg) == [] and speech_of(app).cached_bytes() == 0
    assert speech_of(app).volatile_bytes() == len(audio.data)
    assert client.get(src).data == audio.data  # asked again: from memory

    feed("dmk-pw-01", {"mains_v": 198.0, "power_factor": 0.90})  # a new reading: a new text, a new key
    newer = listen_src(client.get("/kondisi").get_data(as_text=True))
    assert newer != src and client.get(newer).status_code == 200
    assert _files(cfg) == []  # still nothing on the SD card

    home = client.get(listen_src(client.get("/").get_data(as_text=True)))  # a page without live values
    assert home.status_code == 200 and "max-age=86400" in home.headers["Cache-Control"]
    assert len(_files(cfg)) == 1  # is cached on disk as before


def test_a_flood_warning_makes_every_page_reading_volatile(
    app: Flask, feed: Callable[..., None], kiosk_store: Store, cfg: Config
) -> None:
    feed("dmk-wl-01", {"water_cm": 171.0})  # above the alert level: the banner shows the water level
    client = app.test_client()
    src = listen_src(client.get("/informasi").get_data(as_text=True))
    passage = speech_of(app).passage(key_of(src))
    assert passage is not None and passage.volatile and "171" in passage.text
    assert client.get(src).headers["Cache-Control"] == "private, no-store"
    assert _files(cfg) == []


def test_volatile_audio_keeps_within_its_bound(tmp_path: Path) -> None:
    espeak = _counting_espeak(tmp_path)
    speech = Speech(tmp_path / "speech", 1 << 20, espeak=str(espeak), volatile_bytes=100_000)
    keys = [speech.register(f"Tinggi air {cm} sentimeter.", "id", volatile=True) for cm in (120, 121, 122)]
    sizes = []
    for key in keys:  # about 35-40 kB each: the third pushes the first out
        found = speech.audio("id", key, None)
        assert found is not None and found[1] is False  # not to be kept by the browser
        sizes.append(len(found[0]))
        assert speech.volatile_bytes() <= 100_000
    assert sum(sizes) > 100_000 and speech.volatile_bytes() == sizes[1] + sizes[2]
    assert speech.audio("id", keys[-1], None) is not None and _runs(tmp_path) == 3  # kept: from memory
    assert speech.audio("id", keys[0], None) is not None and _runs(tmp_path) == 4  # dropped: made again
    assert not (tmp_path / "speech").exists()  # never on disk
    stable = speech.register("Tinggi air 122 sentimeter.", "id")  # the same text shown on a stable page
    assert stable == keys[-1] and speech.passage(stable).volatile is False  # type: ignore[union-attr]


def test_the_compact_wav_is_a_quarter_of_espeaks_and_keeps_the_signal(tmp_path: Path) -> None:
    samples = [int(20000 * ((i % 50) - 25) / 25) for i in range(22050)]  # a 441 Hz sawtooth, one second
    raw = io.BytesIO()
    with wave.open(raw, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(b"".join(s.to_bytes(2, "little", signed=True) for s in samples))
    stream = bytearray(raw.getvalue())
    stream[40:44] = (0x7FFFF000).to_bytes(4, "little")  # as espeak-ng --stdout writes it: a placeholder size
    small = compact_wav(bytes(stream))
    with wave.open(io.BytesIO(small)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnframes()) == (11025, 1, 11025)
        frames = w.readframes(w.getnframes())
    for i in (0, 7, 12, 20):  # each output sample: the mean of two input samples, 8-bit unsigned
        expected = ((samples[2 * i] >> 8) + 128 + (samples[2 * i + 1] >> 8) + 128) // 2
        assert frames[i] == expected
    assert len(small) <= len(stream) // 4 + 64


def test_chromium_plays_the_conditions_pages_compact_audio(
    make_app: Callable[..., Flask], feed: Callable[..., None], touch_page: Any
) -> None:
    feed("dmk-pw-01", {"mains_v": 221.0, "power_factor": 0.92})
    with LiveServer(make_app()) as server:
        page = touch_page
        page.goto(server.url + "/kondisi")
        button = page.locator("#listen")
        src = button.get_attribute("data-src")
        assert src
        with page.expect_response(lambda r: r.url.endswith(src)) as audio:
            button.tap()
        assert audio.value.status == 200 and audio.value.headers["content-type"] == "audio/wav"
        # decoded (a finite duration, no media error) and playing: its clock moves
        page.wait_for_function(
            """() => { const p = window.anjunganReader.playing();
                       return p !== null && p.error === null && isFinite(p.duration) && p.duration > 1
                              && p.currentTime > 0.2; }"""
        )
        assert page.get_attribute("#listen", "aria-pressed") == "true"
        button.tap()
        page.wait_for_selector("#listen[aria-pressed=false]")
