"""Registration numbers and due dates follow the office's time zone (``[kiosk] timezone``), never the machine's.

A Pi is often left in UTC; a kiosk in Papua (WIT, UTC+9) that took a request at 01:30 local time must number it
and count its working days from that local day (UU 14/2008 Ps. 22), not from the day before in UTC.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gateway import config as config_mod
from gateway import dates, regno
from gateway.config import Config
from gateway.errors import ConfigError
from gateway.sample_content import seed
from gateway.store import Store
from kiosk.app import close_app, create_app
from tests.clocks import SteppedClock
from tests.kiosk.conftest import TEST_CONFIG
from tests.kiosk.helpers import number_on, post, request_data

# 16:30 UTC: 23:30 in Jakarta (WIB), 00:30 the next day in Makassar (WITA), 01:30 the next day in Jayapura (WIT)
MOMENT = datetime(2027, 3, 2, 16, 30, tzinfo=UTC)


def _number_and_due(cfg: Config, zone: str) -> tuple[str, str]:
    cfg = dataclasses.replace(cfg, kiosk=dataclasses.replace(cfg.kiosk, timezone=zone))
    clock = SteppedClock(shift_s=MOMENT.timestamp() - time.time()).system()
    with Store.from_config(cfg, clock=clock) as store:
        seed(store, cfg)
    app = create_app(cfg, {**TEST_CONFIG, "KIOSK_CLOCK": clock})
    try:
        number = number_on(post(app.test_client(), "/permohonan", request_data()))
        with Store.from_config(cfg) as store:
            record = store.submission(number)
        assert record is not None
        return number, record["due_date"]
    finally:
        close_app(app)


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Asia/Jakarta", date(2027, 3, 2)),
        ("Asia/Makassar", date(2027, 3, 3)),
        ("Asia/Jayapura", date(2027, 3, 3)),
    ],
)
def test_the_number_and_the_due_date_count_from_the_offices_day(cfg: Config, zone: str, day: date) -> None:
    number, due = _number_and_due(cfg, zone)
    assert regno.parse(number).day == day
    assert due == dates.request_due(day).isoformat()


def test_an_unknown_zone_is_refused_when_the_config_is_read(config_file: Path) -> None:
    with pytest.raises(ConfigError, match="kiosk.timezone"):
        config_mod.load(config_file, env={"ANJUNGAN_KIOSK_TIMEZONE": "Asia/Atlantis"})
    loaded = config_mod.load(config_file, env={"ANJUNGAN_KIOSK_TIMEZONE": "Asia/Jayapura"})
    assert loaded.kiosk.timezone == "Asia/Jayapura"
