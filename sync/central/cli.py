"""``anjungan central``: serve the central, register gateways, export what arrived, publish content."""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from gateway.errors import AnjunganError
from sync.central import service
from sync.central.app import DB_ENV, DEFAULT_DB, Central, create_app, open_central

F = TypeVar("F", bound=Callable[..., Any])
READING_FIELDS = ("gateway", "node", "boot", "seq", "name", "value", "received_at")


def plain_errors(func: F) -> F:
    """Turn the project's errors into one plain line and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AnjunganError as err:
            raise click.ClickException(str(err)) from err

    return wrapper  # type: ignore[return-value]


@click.group("central")
@click.option("--db", "db_url", envvar=DB_ENV, default=DEFAULT_DB, show_default=True, help="SQLAlchemy URL.")
@click.option(
    "--files-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where documents are stored (default: central-files beside a SQLite file, else ./central-files).",
)
@click.pass_context
def central_group(ctx: click.Context, db_url: str, files_dir: Path | None) -> None:
    """The central: receives what the gateways collect and sends content and answers back."""
    ctx.obj = {"db_url": db_url, "files_dir": files_dir}


def _open(ctx: click.Context) -> Central:
    state = open_central(ctx.obj["db_url"], files_dir=ctx.obj["files_dir"])
    ctx.call_on_close(state.engine.dispose)
    return state


@central_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8600, show_default=True, type=int)
@click.option("--threads", default=16, show_default=True, type=int, help="Worker threads of waitress.")
@click.pass_context
@plain_errors
def serve(ctx: click.Context, host: str, port: int, threads: int) -> None:
    """Serve the sync API and the overview page with waitress (use gunicorn sync.central.wsgi:app at scale)."""
    import waitress

    app = create_app(ctx.obj["db_url"], files_dir=ctx.obj["files_dir"])
    ctx.call_on_close(app.extensions["anjungan.central"].engine.dispose)
    click.echo(f"central on http://{host}:{port}/", err=True)
    waitress.serve(app, host=host, port=port, threads=threads, ident="anjungan-central")


@central_group.command("add-gateway")
@click.argument("name")
@click.pass_context
@plain_errors
def add_gateway(ctx: click.Context, name: str) -> None:
    """Register a gateway; print {"gateway_id", "secret"} (the secret is not shown again)."""
    state = _open(ctx)
    click.echo(json.dumps(service.add_gateway(state.engine, state.master_key, name)))


@central_group.command("export")
@click.argument("what", type=click.Choice(["readings", "submissions"]))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option(
    "--include-personal",
    is_flag=True,
    help="Submissions: include the citizens' personal data (names, NIK, contacts). Off by default.",
)
@click.pass_context
@plain_errors
def export(ctx: click.Context, what: str, fmt: str, include_personal: bool) -> None:
    """Print every stored reading or submission, one per line."""
    state = _open(ctx)
    rows: Iterator[dict[str, Any]]
    if what == "readings":
        rows, fields = service.export_readings(state.engine), list(READING_FIELDS)
    else:
        rows = service.export_submissions(state.engine, include_personal)
        fields = ["gateway", "seq", "uuid", "number", "kind", "submitted_at", "due_date", "status", "answer"]
        fields += ["public", "personal"] if include_personal else ["public"]
    if fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    writer = csv.DictWriter(_Echo(), fieldnames=fields, lineterminator="")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for k, v in row.items()}
        )


@central_group.command("set-status")
@click.argument("gateway_id")
@click.argument("number")
@click.argument("status", type=click.Choice(service.SUBMISSION_STATUSES))
@click.option("--answer", help="The answer shown to the citizen.")
@click.option("--due-date", help="A new due date (ISO), e.g. when the deadline is extended.")
@click.pass_context
@plain_errors
def set_status(
    ctx: click.Context, gateway_id: str, number: str, status: str, answer: str | None, due_date: str | None
) -> None:
    """Record an officer's decision on a submission; it flows down to the kiosk that took it."""
    state = _open(ctx)
    service.set_submission_status(state.engine, gateway_id, number, status, answer=answer, due_date=due_date)
    click.echo(f"{number}: {status}")


@central_group.command("publish-sample")
@click.pass_context
@plain_errors
def publish_sample(ctx: click.Context) -> None:
    """Publish sample content (DIP entries, a document, an announcement) for every gateway."""
    state = _open(ctx)
    for line in publish_sample_content(state):
        click.echo(line)


def publish_sample_content(state: Central) -> Iterator[str]:
    data = _sample_pdf()
    sha = service.publish_document(
        state.engine,
        state.files_dir,
        data,
        title="Laporan Keuangan Desa 2025",
        filename="laporan-keuangan-2025.pdf",
    )
    yield f"document {sha}"
    entries = [
        ("dip-apbdes-2025", "berkala", "APBDes 2025", sha),
        ("dip-banjir", "serta-merta", "Peringatan dini banjir", None),
        ("dip-perdes", "setiap-saat", "Peraturan Desa", None),
    ]
    for item_id, category, title, document in entries:
        service.publish_content(
            state.engine,
            "dip",
            item_id,
            {
                "category": category,
                "title": title,
                "summary": f"{title} (contoh)",
                "unit": "Pemerintah Desa",
                "responsible": "PPID Desa",
                "made": "2025",
                "formats": ["pdf"] if document else ["html"],
                "retention": "5 tahun",
                "document": document,
                "reason": None,
            },
        )
        yield f"dip {item_id}"
    service.publish_content(
        state.engine,
        "announcement",
        "ann-posyandu",
        {
            "title": "Posyandu bulan ini",
            "body": "Posyandu dibuka Sabtu pukul 08.00 di balai desa.",
            "starts": None,
            "ends": None,
            "urgent": False,
        },
    )
    yield "announcement ann-posyandu"


def _sample_pdf() -> bytes:
    return b"%PDF-1.4\n% anjungan sample document\n" + b"Laporan keuangan desa (contoh).\n" * 64 + b"%%EOF\n"


class _Echo:
    """A file-like target for csv that writes each row through click (so CliRunner captures it)."""

    def write(self, text: str) -> int:
        click.echo(text)
        return len(text)


from sync.central.opendata.cli import register as _register_opendata  # noqa: E402

_register_opendata(central_group)
