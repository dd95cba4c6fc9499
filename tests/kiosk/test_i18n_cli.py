"""Every string is translated; the CLI serves and hashes passwords; sample content seeds documents."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from werkzeug.security import check_password_hash

from gateway.sample_content import SAMPLE_CHANGES, seed
from gateway.store import Store
from kiosk import i18n

REPO = Path(__file__).resolve().parents[2]


def extracted_messages() -> set[str]:
    from babel.messages.extract import extract_from_dir

    method_map = [("kiosk/**.py", "python"), ("kiosk/templates/**.html", "jinja2")]
    keywords = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None}
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(REPO), method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_string_has_an_english_translation() -> None:
    from babel.messages.pofile import read_po

    with (i18n.TRANSLATIONS / "en/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}  # a fuzzy guess is not compiled
    missing = extracted_messages() - translated
    assert not missing, f"untranslated: {sorted(missing)}"


def test_compiled_catalogue_is_current() -> None:
    po = i18n.TRANSLATIONS / "en/LC_MESSAGES/messages.po"
    folder = i18n.ensure_compiled()
    mo = folder / "en/LC_MESSAGES/messages.mo"
    assert mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime


def test_hash_password(config_file: Path) -> None:
    from kiosk.cli import kiosk_command

    result = CliRunner().invoke(kiosk_command, ["--hash-password"], input="rahasia-123\nrahasia-123\n")
    assert result.exit_code == 0, result.output
    assert check_password_hash(result.output.strip().splitlines()[-1], "rahasia-123")
    short = CliRunner().invoke(kiosk_command, ["--hash-password"], input="abc\nabc\n")
    assert short.exit_code == 1 and "at least 8" in short.output


def test_seed_writes_valid_documents(cfg, kiosk_store: Store) -> None:  # type: ignore[no-untyped-def]
    import pypdfium2 as pdfium

    assert seed(kiosk_store, cfg) == len(SAMPLE_CHANGES)
    docs = kiosk_store.content("document")
    assert 2 <= len(docs) <= 3
    for doc in docs:
        data = (cfg.data_dir / "files" / doc["sha256"]).read_bytes()
        assert len(data) == doc["size"] and data.startswith(b"%PDF-")
        pdf = pdfium.PdfDocument(data)
        try:
            assert len(pdf) >= 1 and doc["title"].split()[0] in pdf[0].get_textpage().get_text_range()
        finally:
            pdf.close()
    urgent = [a for a in kiosk_store.content("announcement") if a["urgent"]]
    assert len(urgent) == 1
    assert seed(kiosk_store, cfg) == len(SAMPLE_CHANGES)  # twice is harmless
    assert len(kiosk_store.content("dip")) == len([c for c in SAMPLE_CHANGES if c["kind"] == "dip"])


def test_init_with_sample_content(tmp_path: Path) -> None:
    from gateway.cli import cli

    path = tmp_path / "anjungan.toml"
    result = CliRunner().invoke(
        cli, ["--config", str(path), "init", "--sample-content", "--data-dir", "data"]
    )
    assert result.exit_code == 0, result.output
    files = list((tmp_path / "data" / "files").iterdir())
    assert len(files) == 3 and all(f.read_bytes().startswith(b"%PDF-") for f in files)
    with Store.open(tmp_path / "data" / "anjungan.db") as store:
        assert len(store.content("dip")) >= 15


def test_kiosk_command_help() -> None:
    from kiosk.cli import kiosk_command

    result = CliRunner().invoke(kiosk_command, ["--help"])
    assert result.exit_code == 0 and "--hash-password" in result.output
