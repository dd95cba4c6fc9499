"""Citizens' data on the gateway's disk: purged means gone from every file, and the files are private."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import private
from gateway.cli import cli
from gateway.store import Store, db
from tests.gateway.helpers import SnapshotHolder

NIK = "3321019876543210"
PHONE = "081398765432"


def _files(store_path: Path) -> dict[str, bytes]:
    """The raw bytes of the database, its WAL and its shared-memory file (those that exist)."""
    out = {}
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{store_path}{suffix}")
        if path.exists():
            out[path.name] = path.read_bytes()
    return out


def _add(store: Store, count: int) -> None:
    for i in range(count):
        store.add_submission(
            "request",
            {"rincian": f"Salinan anggaran {i}", "tujuan": "musyawarah"},
            {"nama": "Siti Aminah", "nik": NIK, "alamat": "Desa Kalianyar", "telepon": PHONE},
            gateway_id="test-kiosk",
            due_date=None,
        )


@pytest.mark.parametrize("checkpointed_first", [False, True], ids=["in-wal", "in-main-file"])
def test_purged_nik_is_gone_from_the_database_wal_and_shm(tmp_path: Path, checkpointed_first: bool) -> None:
    path = tmp_path / "data" / "anjungan.db"
    with Store.open(path) as store:
        other = Store(path)  # another process's view (the kiosk), holding its own connection
        try:
            assert other.submission("TEST-KIOSK-000000-00000") is None
            _add(store, 5)
            if (
                checkpointed_first
            ):  # the NIK reached the main file before the purge: secure_delete must zero it
                store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            before = _files(path)
            assert any(NIK.encode() in data for data in before.values())  # the test sees the NIK when present
            store.mark_acked("submissions", 5)
            assert store.purge_personal(5) == 5
            after = _files(path)
            found = {name: (NIK.encode() in data, PHONE.encode() in data) for name, data in after.items()}
            assert found == {name: (False, False) for name in after}, found
            assert store.conn.execute("PRAGMA secure_delete").fetchone() == (1,)
            assert other.conn.execute("PRAGMA secure_delete").fetchone() == (1,)
        finally:
            other.close()


def test_a_purge_that_purges_nothing_does_not_checkpoint(store: Store) -> None:
    _add(store, 1)
    wal = Path(f"{store.path}-wal")
    size = wal.stat().st_size
    assert store.purge_personal(0) == 0
    assert wal.stat().st_size == size


def _holding(store_path: Path, secret: bytes) -> list[str]:
    """The names of the store's files whose raw bytes hold ``secret``."""
    return [name for name, data in _files(store_path).items() if secret in data]


def test_a_purge_held_up_by_a_reader_is_finished_once_the_reader_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "data" / "anjungan.db"
    with Store.open(path) as store:
        _add(store, 3)
        store.mark_acked("submissions", 3)
        with SnapshotHolder(path) as reader:  # another process's read snapshot, taken before the purge
            assert store.purge_personal(3) == 3
            assert _holding(path, NIK.encode()) == ["anjungan.db-wal"]  # the checkpoint could not complete
            assert db.checkpoint_owed(store.conn)
            assert store.purge_personal(3) == 0  # a later purge has nothing new to purge ...
            assert store.settle_checkpoint() is False  # ... and the debt stays while the reader holds on
            assert _holding(path, NIK.encode()) == ["anjungan.db-wal"]
            reader.release()
        assert store.settle_checkpoint() is True
        assert _holding(path, NIK.encode()) == [] and _holding(path, PHONE.encode()) == []
        assert not db.checkpoint_owed(store.conn)
        assert store.settle_checkpoint() is True  # nothing owed: nothing to do


def test_a_relayed_lookups_typed_code_leaves_the_wal(tmp_path: Path) -> None:
    code = "7KQ2M9XD4HRTB3N"
    path = tmp_path / "data" / "anjungan.db"
    with Store.open(path) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        lookup_id = store.ask_status_lookup("OTHER-KIOSK-20250101-00001-7", code)  # the kiosk asks
        (pending,) = store.pending_status_lookups()  # the sync process relays it and records the answer
        store.answer_status_lookup(pending["id"], {"found": True, "full": True, "answer": "Salinan siap"})
        assert store.take_status_lookup(lookup_id) is not None  # the kiosk reads it: the row is deleted
        assert store.conn.execute("SELECT count(*) FROM status_lookups").fetchone() == (0,)
        assert _holding(path, code.encode()) == ["anjungan.db-wal"]  # the WAL still has the old pages
        assert db.checkpoint_owed(store.conn)
        with SnapshotHolder(path, "status_lookups") as reader:
            assert store.settle_checkpoint() is False
            reader.release()
        assert store.settle_checkpoint() is True
        assert _holding(path, code.encode()) == [] and _holding(path, b"Salinan siap") == []


def test_a_lookup_dropped_unanswered_owes_a_checkpoint_too(store: Store) -> None:
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lookup_id = store.ask_status_lookup("OTHER-KIOSK-20250101-00001-7", "7KQ2M9XD4HRTB3N")
    assert not db.checkpoint_owed(store.conn)
    store.drop_status_lookup(lookup_id)  # the kiosk gave up waiting
    assert db.checkpoint_owed(store.conn)
    assert store.settle_checkpoint() is True
    assert _holding(store.path, b"7KQ2M9XD4HRTB3N") == []


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> str:
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"


def test_init_writes_private_files_whatever_the_umask(tmp_path: Path, umask_022: None) -> None:
    config = tmp_path / "site" / "anjungan.toml"
    result = CliRunner().invoke(cli, ["--config", str(config), "init", "--gateway-id", "test-kiosk"])
    assert result.exit_code == 0, result.output
    data = tmp_path / "site" / "data"
    store = data / "anjungan.db"
    with Store.open(store) as opened:  # the WAL and shared-memory files exist while a connection is open
        _add(opened, 1)
        modes = {p.name: _mode(p) for p in (config, data, store, Path(f"{store}-wal"), Path(f"{store}-shm"))}
    assert modes == {"anjungan.toml": "0600", "data": "0700", "anjungan.db": "0600",
                     "anjungan.db-wal": "0600", "anjungan.db-shm": "0600"}  # fmt: skip


def test_init_force_rewrites_a_loose_config_as_private(tmp_path: Path, umask_022: None) -> None:
    config = tmp_path / "anjungan.toml"
    config.write_text("")
    config.chmod(0o644)
    result = CliRunner().invoke(cli, ["--config", str(config), "init", "--force"])
    assert result.exit_code == 0, result.output
    assert _mode(config) == "0600"


def test_kiosk_key_is_private(tmp_path: Path, umask_022: None) -> None:
    from gateway import config as config_mod
    from kiosk.app import close_app, create_app

    config = tmp_path / "anjungan.toml"
    private.write_text(
        config, config_mod.commented_toml({"gateway": {"id": "test-kiosk"}, "mqtt": {"host": ""}})
    )
    app = create_app(config_mod.load(config, env={}))
    close_app(app)
    assert _mode(tmp_path / "data" / "kiosk.key") == "0600"
    assert _mode(tmp_path / "data") == "0700"


def test_every_folder_the_gateway_creates_is_private(tmp_path: Path, umask_022: None) -> None:
    """Under umask 022 ``mkdir -p`` makes 0755 folders (``data/files`` was): every folder the gateway makes,
    and each missing parent, is 0700."""
    from gateway import portlock
    from gateway.porttap import TapListener
    from gateway.sample_content import write_documents
    from kiosk import documents

    data = tmp_path / "site" / "data"
    assert write_documents(data) > 0  # data/files, as the sync's downlink makes it
    sha = sorted(p.name for p in (data / "files").iterdir())[0]
    source = str(documents.file_path(data, sha))
    documents.count_pages({"path": source, "count_file": str(documents.pages_dir(data, sha) / "count")})
    documents.render_page({"path": source, "number": 1, "target": str(documents.page_path(data, sha, 1))})
    with portlock.released(data, "loop://"), TapListener(data, "loop://"):
        pass
    private.ensure_dir(data / "backups")
    folders = [tmp_path / "site", *(p for p in (tmp_path / "site").rglob("*") if p.is_dir())]
    assert {p.relative_to(tmp_path).as_posix(): _mode(p) for p in folders} == {
        name: "0700" for name in ("site", "site/data", "site/data/files", "site/data/pages",
                                  f"site/data/pages/{sha}", "site/data/run", "site/data/run/readers", "site/data/run/tap",
                                  "site/data/backups")
    }  # fmt: skip


def test_doctor_flags_a_loose_folder_inside_the_data_folder(tmp_path: Path, umask_022: None) -> None:
    config = tmp_path / "anjungan.toml"
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "init"]).exit_code == 0
    (tmp_path / "data" / "files").mkdir()  # as an older release made it: 0755
    (tmp_path / "data" / "pages" / "abc").mkdir(parents=True)
    result = runner.invoke(cli, ["--config", str(config), "doctor"])
    lines = [line for line in result.output.splitlines() if "is not private" in line]
    assert len(lines) == 3, result.output
    assert [line.split(" is not private")[0].rsplit("/", 2)[-2:] for line in lines] == [
        ["data", "files"], ["data", "pages"], ["pages", "abc"]
    ]  # fmt: skip
    assert all("mode 0755" in line for line in lines) and result.exit_code != 0
    for folder in ("files", "pages", "pages/abc"):
        (tmp_path / "data" / folder).chmod(0o700)
    healthy = runner.invoke(cli, ["--config", str(config), "doctor"])
    assert "is not private" not in healthy.output and "are private to their owner" in healthy.output


def test_doctor_flags_loose_permissions(tmp_path: Path, umask_022: None) -> None:
    config = tmp_path / "anjungan.toml"
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "init"]).exit_code == 0
    healthy = runner.invoke(cli, ["--config", str(config), "doctor"])
    assert "are private to their owner" in healthy.output
    assert "is not private" not in healthy.output
    config.chmod(0o644)
    (tmp_path / "data").chmod(0o755)
    (tmp_path / "data" / "anjungan.db").chmod(0o640)  # readable by the service group: allowed
    result = runner.invoke(cli, ["--config", str(config), "doctor"])
    output = result.output.splitlines()
    lines = [line for line in output if "is not private" in line]
    assert len(lines) == 2, result.output
    assert output[output.index(lines[0]) - 1].startswith("PERLU")  # the Indonesian line above, flagged
    assert "anjungan.toml" in lines[0] and "mode 0644" in lines[0]
    assert "data is not private" in lines[1] and "mode 0755" in lines[1]
    assert result.exit_code != 0


def test_loose_describes_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    path.chmod(0o600)
    assert private.loose(path) is None
    path.chmod(0o620)
    assert "its group can write it" in (private.loose(path) or "")
    path.chmod(0o604)
    assert "others can read it" in (private.loose(path) or "")
    assert private.loose(tmp_path / "missing") is None


def test_port_release_request_is_private(tmp_path: Path, umask_022: None) -> None:
    """The request a tool leaves for the ingest to let go of a port is 0600 under umask 022 (it was 0644)."""
    import threading

    from gateway import portlock

    data = tmp_path / "data"
    private.ensure_dir(data)
    reader = portlock.PortClaim(data, "loop://")
    assert reader.acquire()  # the ingest reads the port
    taken = threading.Event()
    failures: list[BaseException] = []

    def tool() -> None:
        try:
            with portlock.released(data, "loop://", timeout_s=60):
                taken.set()
        except BaseException as err:  # reported by the assertion below
            failures.append(err)
            taken.set()

    thread = threading.Thread(target=tool)
    thread.start()
    try:
        request = portlock.request_path(data, "loop://")
        while not portlock.is_release_requested(data, "loop://") and not taken.is_set():
            threading.Event().wait(0.01)
        assert _mode(request) == "0600"
        assert not taken.is_set()  # the tool still waits for the reader
    finally:
        reader.release()
        thread.join(60)
    assert taken.is_set() and not failures
    assert not request.exists()
