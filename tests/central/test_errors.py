"""Each error class says the HTTP status it is answered with, and the central answers exactly that.

Every subclass of AnjunganError the central can raise (its own, the protocol's and the lowest layer's) is
raised in a route of the real app, in the blueprint whose code raises it, and the answer's status is compared
with the class's ``status`` (500 for a class that names none); for a JSON answer, the word with ``error``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import sync.central
from gateway import regno
from gateway.errors import AnjunganError
from sync import protocol
from sync.central import db, errors, lookup
from sync.central.app import create_app
from sync.central.backoffice.errors import BackofficeError
from sync.central.opendata import downloads, open311
from tests.central import officers

# The classes whose constructor takes more than a message, with an instance to raise.
SPECIAL: dict[type, Callable[[], AnjunganError]] = {
    protocol.SkewError: lambda: protocol.SkewError("the timestamp is 3600 s off", 1_795_449_600),
    errors.RecordsRejected: lambda: errors.RecordsRejected("readings", [{"seq": 3, "reason": "no value"}]),
    errors.Unavailable: lambda: errors.Unavailable(db.BUSY, "the central's database is busy"),
    open311.Open311Error: lambda: open311.Open311Error(404, "no service request 'x'"),
    lookup._TooMany: lambda: lookup._TooMany(60),
    regno.InvalidNumber: lambda: regno.InvalidNumber("probe: ünïcode message", code="check_digit"),
}

# Where the code raises each class that a blueprint answers itself (the endpoint's blueprint); the others are
# raised in the sync API and answered by the app.
BLUEPRINTS: dict[type, str] = {
    BackofficeError: "backoffice_cases",
    downloads.QueryError: "opendata",
    open311.Open311Error: "open311",
    lookup._TooMany: "status_lookup",
}

# The contract (docs/protocol.md, docs/opendata.md): the status and word of each error the API documents.
CONTRACT: dict[type, tuple[int, str]] = {
    AnjunganError: (500, "internal"),
    protocol.ProtocolError: (400, "malformed"),
    protocol.BodyTooLargeError: (413, "too large"),
    protocol.SignatureError: (401, "bad signature"),
    protocol.SkewError: (401, "clock skew"),
    errors.CentralError: (400, "malformed"),
    errors.RecordsRejected: (422, "rejected records"),
    errors.Unavailable: (503, "unavailable"),
    lookup._TooMany: (429, "too many requests"),
    downloads.QueryError: (400, "bad query"),
}


def central_error_classes() -> list[type[AnjunganError]]:
    """Every AnjunganError class the central's code can raise: defined in sync.central (every module
    imported), sync.protocol or the lowest layer it imports."""
    for module in pkgutil.walk_packages(sync.central.__path__, "sync.central."):
        if ".migrations" not in module.name and module.name != "sync.central.wsgi":  # wsgi makes an app
            importlib.import_module(module.name)
    found: list[type[AnjunganError]] = []
    stack: list[type[AnjunganError]] = [AnjunganError]
    while stack:
        cls = stack.pop()
        if cls.__module__.startswith(("sync.central", "sync.protocol", "gateway.errors", "gateway.regno")):
            found.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


CLASSES = central_error_classes()


def instance(cls: type[AnjunganError]) -> AnjunganError:
    return SPECIAL[cls]() if cls in SPECIAL else cls("probe: ünïcode message")


def blueprint_of(cls: type) -> str:
    return next((bp for kind, bp in BLUEPRINTS.items() if issubclass(cls, kind)), "api")


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[type, Any]]:
    """The answer to each class raised in a route of its blueprint (back-office routes with a login)."""
    tmp: Path = tmp_path_factory.mktemp("errors")
    app: Flask = create_app(
        f"sqlite:///{tmp / 'central.db'}", files_dir=tmp / "files", key_file=tmp / "k.key"
    )
    app.config["TESTING"] = True
    by_name = {f"{c.__module__}.{c.__qualname__}": c for c in CLASSES}

    def raiser(name: str) -> Any:
        raise instance(by_name[name])

    for bp in {*BLUEPRINTS.values(), "api"}:
        app.add_url_rule(f"/probe-{bp}/<name>", endpoint=f"{bp}.probe_error", view_func=raiser)
    client = officers.logged_in(app, "ppid-probe", "ppid")
    yield {cls: client.get(f"/probe-{blueprint_of(cls)}/{name}") for name, cls in by_name.items()}
    app.extensions["anjungan.central"].engine.dispose()


def test_the_walk_finds_the_central_s_errors() -> None:
    assert set(CONTRACT) <= set(CLASSES)
    assert {BackofficeError, open311.Open311Error} <= set(CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__qualname__)
def test_each_error_is_answered_with_the_status_its_class_names(cls: type, probed: dict[type, Any]) -> None:
    err = instance(cls)
    answer = probed[cls]
    assert answer.status_code == (err.status or 500) == errors.status_of(err)
    if issubclass(cls, open311.Open311Error):  # GeoReport v2's errors: the status is each error's code
        assert answer.get_json() == [{"code": err.status, "description": str(err)}]
    elif answer.mimetype == "application/json":
        word = answer.get_json()["error"]
        assert err.error is None or word == err.error
    else:  # the back office's page
        assert issubclass(cls, BackofficeError)
        assert answer.mimetype == "text/html"


@pytest.mark.parametrize("cls", sorted(CONTRACT, key=str), ids=lambda c: c.__qualname__)
def test_the_documented_answers_stay_what_they_are(cls: type, probed: dict[type, Any]) -> None:
    status, word = CONTRACT[cls]
    answer = probed[cls]
    assert (answer.status_code, answer.get_json()["error"]) == (status, word)
    assert answer.get_json().get("detail") == (None if cls is errors.RecordsRejected else str(instance(cls)))
