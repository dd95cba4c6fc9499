"""The protocol module on its own: signing vectors, verification, batch bodies and the columnar form."""

from __future__ import annotations

import base64
import gzip
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import protocol

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "signatures.json"
CASES = json.loads(VECTORS.read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["note"] for c in CASES])
def test_signature_vectors_sign(case: dict) -> None:
    body = base64.b64decode(case["body_b64"])
    assert (
        protocol.sign(case["secret"], case["timestamp"], case["method"], case["target"], body)
        == case["signature"]
    )


@pytest.mark.parametrize("case", CASES, ids=[c["note"] for c in CASES])
def test_signature_vectors_verify(case: dict) -> None:
    body = base64.b64decode(case["body_b64"])
    headers = {
        protocol.HEADER_GATEWAY: "dmk-wonosalam",
        protocol.HEADER_TIMESTAMP: str(case["timestamp"]),
        protocol.HEADER_SIGNATURE: case["signature"],
    }
    protocol.verify(case["secret"], headers, case["method"], case["target"], body, case["timestamp"] + 299)
    with pytest.raises(protocol.SignatureError) as caught:
        protocol.verify(
            case["secret"], headers, case["method"], case["target"] + "x", body, case["timestamp"]
        )
    assert caught.value.error == "bad signature"


def test_signed_headers_round_trip_and_header_case() -> None:
    headers = protocol.signed_headers("gw", "k", "post", "/api/v1/batches", b"{}", 1000.9)
    assert headers[protocol.HEADER_TIMESTAMP] == "1000"
    lowered = {k.lower(): v for k, v in headers.items()}
    protocol.verify("k", lowered, "POST", "/api/v1/batches", b"{}", 1000.0)


def test_skew_carries_server_time() -> None:
    headers = protocol.signed_headers("gw", "k", "GET", "/api/v1/changes", b"", 1000)
    with pytest.raises(protocol.SkewError) as caught:
        protocol.verify("k", headers, "GET", "/api/v1/changes", b"", 1000 + 301)
    assert caught.value.server_time == 1301 and caught.value.error == "clock skew"
    assert caught.value.status == 401


@pytest.mark.parametrize(
    "change",
    [
        {protocol.HEADER_SIGNATURE: None},
        {protocol.HEADER_TIMESTAMP: "soon"},
        {protocol.HEADER_SIGNATURE: "00" * 32},
        {protocol.HEADER_TIMESTAMP: "1001"},
    ],
)
def test_verify_refuses_bad_headers(change: dict) -> None:
    headers = protocol.signed_headers("gw", "k", "GET", "/x", b"", 1000)
    headers = {k: v for k, v in {**headers, **change}.items() if v is not None}
    with pytest.raises(protocol.SignatureError) as caught:
        protocol.verify("k", headers, "GET", "/x", b"", 1000)
    assert not isinstance(caught.value, protocol.SkewError)


def _reading(seq: int, **over: object) -> dict:
    record = {
        "seq": seq,
        "node": "n1",
        "boot": 1,
        "q": seq,
        "name": "temp_c",
        "value": 27.5,
        "at": 10,
        "offset": 0,
    }
    return {**record, **over}


def test_rows_round_trip_every_stream_and_after() -> None:
    records = [{"seq": 3, "at": 1, "offset": None, "node": None, "kind": "boot", "data": {}}]
    for compress in (True, False):
        body, headers = protocol.encode_batch("events", records, after=1, compress=compress)
        assert ("Content-Encoding" in headers) is compress
        assert protocol.decode_batch(body, headers) == protocol.Batch("events", records, 1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "not a JSON object"),
        (b'{"stream":"nope","records":[]}', "unknown stream"),
        (b'{"stream":"events","records":{}}', "not a list"),
        (b'{"stream":"events","records":[{"seq":2},{"seq":2}]}', "strictly increasing"),
        (b'{"stream":"events","records":[{"seq":0}]}', "positive integer"),
        (b'{"stream":"events","records":[{"seq":true}]}', "positive integer"),
        (b'{"stream":"events","records":[],"after":"x"}', "'after'"),
        (b'{"stream":"readings","records":[{"seq":1,"value":NaN}]}', "NaN"),
        (b'{"stream":', "not valid JSON"),
        (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
        (b'{"stream":"readings","columns":{"v":2}}', "version 1"),
        (b'{"stream":"events","columns":{"v":1}}', "only readings"),
    ],
)
def test_decode_refuses_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=message) as caught:
        protocol.decode_batch(body, {})
    assert caught.value.status == 400


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"{" + b" " * (50 << 20) + b"}", 9)
    assert len(bomb) < 100_000
    with pytest.raises(protocol.BodyTooLargeError) as caught:
        protocol.decode_batch(bomb, {"Content-Encoding": "gzip"}, max_bytes=1 << 20)
    assert caught.value.status == 413


@pytest.mark.parametrize("body", [b"not gzip", gzip.compress(b'{"stream":"events","records":[]}')[:-6]])
def test_broken_gzip_is_malformed(body: bytes) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_batch(body, {"content-encoding": "gzip"})


def test_unknown_content_encoding_is_malformed() -> None:
    with pytest.raises(protocol.ProtocolError, match="Content-Encoding"):
        protocol.decode_batch(b"{}", {"Content-Encoding": "br"})


def test_columnar_refused_for_other_shapes() -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.encode_batch("readings", [_reading(1, extra=1)], columnar=True)
    with pytest.raises(protocol.ProtocolError):
        protocol.encode_batch("readings", [_reading(2), _reading(1)])


@pytest.mark.parametrize(
    "group_change",
    [
        {"n": 5},
        {"seq": "x"},
        {"boot": [[1, 0]]},
        {"value": {"k": 99, "d": [1]}},
        {"value": {"raw": ["x"]}},
        {"q": []},
    ],
)
def test_columnar_decode_refuses_broken_groups(group_change: dict) -> None:
    body, _ = protocol.encode_batch("readings", [_reading(1)], columnar=True, compress=False)
    doc = json.loads(body)
    doc["columns"]["groups"][0].update(group_change)
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_batch(json.dumps(doc).encode(), {})


def test_record_problem_names_the_field() -> None:
    assert protocol.record_problem("readings", _reading(1)) is None
    assert protocol.record_problem("readings", _reading(1, value="7")) == "'value' is not a finite number"
    assert protocol.record_problem("readings", _reading(1, node="Bad Node")) == "'node' is not a node id"
    assert "missing" in (protocol.record_problem("submissions", {"seq": 1}) or "")


values = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(-10000, 10000, places=2, allow_nan=False, allow_infinity=False).map(float),
)
reading_records = st.lists(
    st.fixed_dictionaries(
        {
            "node": st.sampled_from(["dmk-wl-01", "dmk-wx-02", "a"]),
            "boot": st.integers(0, 2**40),
            "q": st.integers(0, 2**40),
            "name": st.sampled_from(["water_cm", "temp_c", "rh_pct"]),
            "value": values,
            "at": st.integers(-(2**53), 2**53),
            "offset": st.one_of(st.none(), st.integers(-(10**9), 10**9)),
        }
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(reading_records, st.integers(1, 2**40), st.lists(st.integers(1, 5), min_size=60, max_size=60))
def test_columnar_round_trip_is_exact(rows: list[dict], first: int, steps: list[int]) -> None:
    seq = first
    records = []
    for row, step in zip(rows, steps, strict=False):
        records.append({"seq": seq, **row})
        seq += step
    for compress in (True, False):
        body, headers = protocol.encode_batch("readings", records, columnar=bool(records), compress=compress)
        decoded = protocol.decode_batch(body, headers).records
        assert json.dumps(decoded, sort_keys=True) == json.dumps(
            records, sort_keys=True
        )  # same values, same int/float types, same order


def synthetic_readings(count: int, nodes: int = 20, seed: int = 1) -> list[dict]:
    """Readings as a village's nodes produce them: 5 sensors a node, one frame a minute, small changes."""
    rnd = random.Random(seed)
    names = ["water_cm", "temp_c", "rh_pct", "rain_mm", "bat_v"]
    level = {(n, s): rnd.uniform(10, 100) for n in range(nodes) for s in names}
    records: list[dict] = []
    frame = 0
    while len(records) < count:
        for n in range(nodes):
            at = 1_795_449_600_000 + frame * 60_000 + n * 1000 + rnd.randint(0, 300)
            for name in names:
                level[(n, name)] += rnd.choice([-0.1, 0.0, 0.0, 0.1, 0.2])
                records.append(
                    {
                        "seq": len(records) + 1,
                        "node": f"dmk-n{n:02d}",
                        "boot": 3,
                        "q": frame,
                        "name": name,
                        "value": round(level[(n, name)], 1),
                        "at": at,
                        "offset": -1200,
                    }
                )
        frame += 1
    return records[:count]


def bytes_per_reading(records: list[dict], batch: int, **options: object) -> float:
    total = 0
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        body, headers = protocol.encode_batch("readings", chunk, **options)  # type: ignore[arg-type]
        assert protocol.decode_batch(body, headers).records == chunk
        total += len(body)
    return total / len(records)


def test_columnar_wire_size_target() -> None:
    records = synthetic_readings(10_000)
    columns = bytes_per_reading(records, 1000, columnar=True)
    rows = bytes_per_reading(records, 1000, columnar=False)
    auto_small = bytes_per_reading(records, 100)
    print(
        f"bytes/reading at 1,000: columnar+gzip {columns:.2f}, rows+gzip {rows:.2f}; auto at 100: {auto_small:.2f}"
    )
    assert columns <= 3.0
    assert auto_small <= bytes_per_reading(records, 100, columnar=False)
