"""Property: whatever arrives unsigned or malformed, the API never answers 5xx and conforms to its OpenAPI.

Cases come from schemathesis' strategies for each operation, driven by hypothesis directly (the schemathesis
pytest plugin does not work with the pytest this project uses).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from sync.central.app import create_app
from sync.central.openapi import openapi_document

OPERATIONS = [(path, method.upper()) for path, item in openapi_document()["paths"].items() for method in item]


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    app = create_app(
        f"sqlite:///{tmp_path / 'central.db'}",
        files_dir=tmp_path / "files",
        key_file=tmp_path / "central.key",
    )
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    app.extensions["anjungan.central"].engine.dispose()


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_api_never_fails_and_conforms(api_schema: schemathesis.BaseSchema, path: str, method: str) -> None:
    operation = api_schema[path][method]

    @given(data=st.data())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy())
        response = case.call_and_validate(
            checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
        )
        if path not in ("/api/v1/time", "/api/v1/openapi.json"):
            assert response.status_code in (400, 401, 404, 405, 413), response.text

    run()
