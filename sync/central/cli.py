"""``anjungan central``: serve the central, register gateways, export what arrived, publish content."""

from __future__ import annotations

import csv
import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import sqlalchemy as sa

from gateway.errors import AnjunganError
from gateway.vocabulary import READING_EXPORT_KEYS, SUBMISSION_STATUSES
from sync.central import service
from sync.central.app import MAX_BODY, CentralState, create_app, open_central, require_database
from sync.central.backoffice.roles import ROLES
from sync.central.settings import DB_ENV, CentralSettings

F = TypeVar("F", bound=Callable[..., Any])
READING_FIELDS = ("gateway", *READING_EXPORT_KEYS)


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
@click.option("--db", "db_url", help=f"SQLAlchemy URL (default: {DB_ENV}, else sqlite:///./central.db).")
@click.option(
    "--files-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where documents are stored (default: ANJUNGAN_CENTRAL_SERVER_FILES, else central-files beside a "
    "SQLite database; PostgreSQL has no default).",
)
@click.pass_context
def central_group(ctx: click.Context, db_url: str | None, files_dir: Path | None) -> None:
    """The central: receives what the gateways collect and sends content and answers back.

    Its settings are environment variables ANJUNGAN_CENTRAL_DB and ANJUNGAN_CENTRAL_SERVER_* (docs/central.md).
    """
    ctx.obj = {"db_url": db_url, "files_dir": files_dir}


def _settings(ctx: click.Context) -> CentralSettings:
    try:
        return CentralSettings.from_env(
            db=ctx.obj["db_url"], files=str(ctx.obj["files_dir"]) if ctx.obj["files_dir"] else None
        )
    except AnjunganError as err:
        raise click.ClickException(str(err)) from err


def _open(ctx: click.Context, *, create: bool = False) -> CentralState:
    """Open the central's database. Unless ``create`` (``serve``, ``add-gateway``), a SQLite database file
    that does not exist is refused with one line (so that a command run in the wrong folder, or without
    ``--db``, creates neither an empty ``central.db`` nor a ``central.key`` there)."""
    settings = _settings(ctx)
    if not create:
        try:
            require_database(settings.db)
        except AnjunganError as err:
            raise click.ClickException(str(err)) from err
    state = open_central(settings=settings)
    ctx.call_on_close(state.engine.dispose)
    return state


@central_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8600, show_default=True, type=int)
@click.option("--threads", default=16, show_default=True, type=int, help="Worker threads of waitress.")
@click.pass_context
@plain_errors
def serve(ctx: click.Context, host: str, port: int, threads: int) -> None:
    """Serve the sync API and the overview page with waitress (use gunicorn sync.central.wsgi:app at scale).

    The database pool must be smaller than ``--threads``, so that requests needing no database (the clock)
    always find a thread while the database is slow.
    """
    import waitress

    settings = _settings(ctx)
    if settings.connections_per_process >= threads:
        raise AnjunganError(
            f"--threads {threads} must exceed the database connections per process "
            f"({settings.connections_per_process}: ANJUNGAN_CENTRAL_SERVER_POOL_SIZE + _POOL_OVERFLOW)"
        )
    app = create_app(settings=settings)
    state = app.extensions["anjungan.central"]
    ctx.call_on_close(state.engine.dispose)
    state.files()  # a server with nowhere to serve documents from does not start
    click.echo(f"central on http://{host}:{port}/", err=True)
    evaluator = _alert_evaluator(state)
    sms = _sms_worker(state)
    try:
        waitress.serve(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="anjungan-central",
            max_request_body_size=MAX_BODY,
        )
    finally:
        if evaluator is not None:
            evaluator.close()
        if sms is not None:
            sms.close()


def _alert_evaluator(state: CentralState) -> Any:
    """The thread that evaluates the fleet's alerts every ANJUNGAN_CENTRAL_SERVER_ALERTS_EVERY_S (0: none)."""
    from sync.central.fleet.alerts import Evaluator
    from sync.central.fleet.settings import FleetSettings

    cfg = FleetSettings.from_env()
    if cfg.alerts_every_s <= 0:
        return None
    return Evaluator(state.engine, cfg, state.clock).start()


def _sms_worker(state: CentralState) -> Any:
    """The thread that sends the SMS queue every ANJUNGAN_CENTRAL_SERVER_SMS_EVERY_S (none without a sender,
    or at 0: then ``central sms-worker`` sends it)."""
    from sync.central.sms import worker
    from sync.central.sms.senders import make_sender
    from sync.central.sms.settings import SmsSettings

    cfg = SmsSettings.from_env()
    sender = make_sender(cfg)
    if sender is None or cfg.sms_every_s <= 0:
        return None
    return worker.Worker(
        state.engine, sender, cfg, worker.hash_key(state.master_key, cfg), state.clock
    ).start()


@central_group.command("add-gateway")
@click.argument("name")
@click.pass_context
@plain_errors
def add_gateway(ctx: click.Context, name: str) -> None:
    """Register a gateway; print {"gateway_id", "secret"} (the secret is not shown again)."""
    state = _open(ctx, create=True)
    click.echo(json.dumps(service.add_gateway(state.engine, state.master_key, name)))


@central_group.command("list-gateways")
@click.pass_context
@plain_errors
def list_gateways(ctx: click.Context) -> None:
    """Print every registered gateway (kiosk), one JSON object per line: {"gateway_id", "name", "last_seen",
    "removed"} (times ISO 8601 UTC, null when never/not)."""
    state = _open(ctx)
    for row in service.overview(state.engine):
        click.echo(json.dumps({k: row[k] for k in ("gateway_id", "name", "last_seen", "removed")}))


@central_group.command("rotate-secret")
@click.argument("gateway_id")
@click.pass_context
@plain_errors
def rotate_secret(ctx: click.Context, gateway_id: str) -> None:
    """Issue a new secret to a gateway; print {"gateway_id", "secret"}. The old one is refused at once."""
    state = _open(ctx)
    click.echo(json.dumps(service.rotate_secret(state.engine, state.master_key, gateway_id)))


@central_group.command("remove-gateway")
@click.argument("gateway_id")
@click.pass_context
@plain_errors
def remove_gateway(ctx: click.Context, gateway_id: str) -> None:
    """Revoke a gateway: its requests are refused (401) from now on; what it sent stays."""
    state = _open(ctx)
    service.remove_gateway(state.engine, gateway_id)
    click.echo(f"{gateway_id}: removed")


@central_group.command("audit")
@click.argument("gateway_id", required=False)
@click.pass_context
@plain_errors
def audit(ctx: click.Context, gateway_id: str | None) -> None:
    """Print the credentials audit (added, secret-rotated, removed), one JSON object per line."""
    state = _open(ctx)
    for row in service.audit_log(state.engine, gateway_id):
        click.echo(json.dumps(row, ensure_ascii=False))


@central_group.command("add-user")
@click.argument("name")
@click.option(
    "--role", required=True, type=click.Choice(ROLES), help="The officer's role in the back office."
)
@click.option("--opd", help="The OPD code (needed for a pelaksana); a new code is added as an OPD.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input instead of generating."
)
@click.pass_context
@plain_errors
def add_user(ctx: click.Context, name: str, role: str, opd: str | None, password_stdin: bool) -> None:
    """Create an officer's account; print {"user", "role", "opd", "password"} (the password is shown once)."""
    from sync.central.backoffice import accounts, audit

    if role == "pelaksana" and not opd:
        raise click.ClickException("--role pelaksana needs --opd CODE (the OPD the officer works for)")
    state = _open(ctx)
    given = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    at = service.now_ms()
    password = accounts.add_user(state.engine, name, role, opd=opd, password=given, now_ms=at)
    with state.engine.begin() as conn:
        audit.record(conn, audit.Actor("cli", "admin"), "user-add", "user:" + name.strip().lower(), at, None,
                     {"role": role, "opd": opd})  # fmt: skip
    shown = {"user": name.strip().lower(), "role": role, "opd": opd}
    click.echo(json.dumps(shown if password_stdin else {**shown, "password": password}))


@central_group.command("add-opd")
@click.argument("code")
@click.argument("name")
@click.pass_context
@plain_errors
def add_opd(ctx: click.Context, code: str, name: str) -> None:
    """Add an OPD (perangkat daerah: a producer of data, the office of a pelaksana) or rename one; audited. CODE:
    lower-case letters, digits and hyphens (at most 32), e.g. bpbd; NAME: e.g. 'BPBD Kabupaten Demak'."""
    from sync.central.backoffice import accounts, audit

    state = _open(ctx)
    accounts.save_opd(state.engine, code, name)
    with state.engine.begin() as conn:
        audit.record(conn, audit.Actor("cli", "admin"), "opd-save", "opd:" + code, service.now_ms(), None,
                     {"name": name.strip()})  # fmt: skip
    click.echo(f"{code}: {name.strip()}")


@central_group.command("reset-password")
@click.argument("name")
@click.pass_context
@plain_errors
def reset_password(ctx: click.Context, name: str) -> None:
    """Give an officer's account a new generated password and end its sessions; print {"user", "role", "opd",
    "password"} (the password is shown once). For an admin who lost theirs; admins reset others on /pengguna."""
    from sync.central.backoffice import accounts, audit

    state = _open(ctx)
    at = service.now_ms()
    password = accounts.reset_password(state.engine, name)
    with state.engine.begin() as conn:
        found = accounts.user(conn, name)
        audit.record(
            conn, audit.Actor("cli", "admin"), "user-reset-password", "user:" + found["username"], at
        )
    click.echo(
        json.dumps(
            {"user": found["username"], "role": found["role"], "opd": found["opd"], "password": password}
        )
    )


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
    at, printed = service.now_ms(), [0]
    try:
        _print_rows(rows, fields, fmt, printed)
    finally:
        if include_personal and what == "submissions":
            _audit_personal_export(state, at, fmt, printed[0])


def _print_rows(rows: Iterator[dict[str, Any]], fields: list[str], fmt: str, printed: list[int]) -> None:
    """Print ``rows`` as JSON lines or CSV, counting them in ``printed[0]`` as they go."""
    writer = csv.DictWriter(_Echo(), fieldnames=fields, lineterminator="") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in rows:
        if writer is None:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            writer.writerow(
                {k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for k, v in row.items()}
            )
        printed[0] += 1


def _audit_personal_export(state: CentralState, at: int, fmt: str, count: int) -> None:
    """An export with the citizens' personal data is a view of it: one entry in the back office's audit trail
    (actor ``cli``), with what was exported and how many rows were printed (also when the export broke off)."""
    from sync.central.backoffice import audit

    with state.engine.begin() as conn:
        audit.record(conn, audit.Actor("cli", "admin"), "export-personal", "submissions", at, None,
                     {"what": "submissions", "format": fmt, "fields": ["public", "personal"], "rows": count})  # fmt: skip


@central_group.command("set-status")
@click.argument("gateway_id")
@click.argument("number")
@click.argument("status", type=click.Choice(SUBMISSION_STATUSES))
@click.option("--answer", help="The answer shown to the citizen.")
@click.option("--due-date", help="A new due date (ISO), e.g. when the deadline is extended.")
@click.pass_context
@plain_errors
def set_status(
    ctx: click.Context, gateway_id: str, number: str, status: str, answer: str | None, due_date: str | None
) -> None:
    """Set the kiosk's status of a submission that has no case in the back office.

    A submission the back office tracks as a case (every request, complaint and objection) is refused: its
    steps (verify, assign, answer, close) are taken in the back office, so that the case, the report and the
    audit trail stay true.
    """
    from sync.central.backoffice import intake
    from sync.central.backoffice.models import cases

    state = _open(ctx)
    intake.sync_cases(state.engine)
    with state.engine.connect() as conn:
        tracked = conn.execute(
            sa.select(cases.c.status).where(cases.c.gateway_id == gateway_id, cases.c.number == number)
        ).first()
    if tracked is not None:
        raise AnjunganError(
            f"{number} is a case of the back office (status {tracked[0]}): answer it there, at "
            f"/berkas/{gateway_id}/{number}, so that the case, the report and the audit trail follow"
        )
    service.set_submission_status(state.engine, gateway_id, number, status, answer=answer, due_date=due_date)
    click.echo(f"{number}: {status}")


@central_group.command("publish-sample")
@click.pass_context
@plain_errors
def publish_sample(ctx: click.Context) -> None:
    """Publish the sample content (DIP entries, documents, announcements) for every gateway; items published
    before (also those edited or withdrawn since) are left as they are, so running it again adds nothing."""
    state = _open(ctx)
    for line in publish_sample_content(state):
        click.echo(line)


def publish_sample_content(state: CentralState) -> Iterator[str]:
    """Publish :mod:`gateway.sample_content` (the content a kiosk's ``init --sample-content`` seeds) for every
    gateway, as the back office publishes (audited, actor ``cli``); yield one line per item. Idempotent:
    :func:`sync.central.backoffice.publishing.publish_new`."""
    from gateway import sample_content
    from sync.central.backoffice import audit, publishing

    made = publishing.publish_new(state.engine, state.files(), audit.Actor("cli", "admin"),
                                  sample_content.SAMPLE_CHANGES, sample_content.documents(), service.now_ms())  # fmt: skip
    for kind, item_id, published in made:
        yield f"{kind} {item_id}" if published else f"{kind} {item_id}: published before, left as it is"


class _Echo:
    """A file-like target for csv that writes each row through click (so CliRunner captures it)."""

    def write(self, text: str) -> int:
        click.echo(text)
        return len(text)


from sync.central.opendata.cli import register as _register_opendata  # noqa: E402

_register_opendata(central_group)

from sync.central.fleet.cli import register as _register_fleet  # noqa: E402

_register_fleet(central_group)

from sync.central.sms.cli import register as _register_sms  # noqa: E402

_register_sms(central_group)
