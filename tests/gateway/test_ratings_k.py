"""The satisfaction ratings leave the kiosk only in groups of at least K of one service (docs/skm.md,
"k-anonymity"): a day with one objection does not send that objection's rating under its day."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from gateway.store import Store
from gateway.store.ratings import K_ANONYMITY, k_anonymous, week_label


def end_of(day: date) -> int:
    """The release of ``day`` (its end, in UTC: the store's default), ms since the epoch."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000) + 86_400_000


def rate(store: Store, service: str, day: date, n: int, tag: str) -> None:
    for i in range(n):
        store.add_rating(service, {"u1": 1 + i % 4}, day=day, uuid=f"{tag}-{i}")


def sent(store: Store) -> Counter[tuple[str, str]]:
    return Counter(store.conn.execute("SELECT service, day FROM ratings").fetchall())


def held(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM ratings_held").fetchone()[0])


def test_k_is_five() -> None:
    assert K_ANONYMITY == 5


def test_a_lone_objection_waits_and_goes_under_its_week(store: Store) -> None:
    tuesday = date(2026, 11, 10)
    rate(store, "request", tuesday, 5, "req")
    rate(store, "objection", tuesday, 1, "obj-tue")
    assert store.release_ratings(end_of(tuesday)) == 5
    assert sent(store) == {("request", "2026-11-10"): 5}  # the day's requests: five, under their day
    assert held(store) == 1  # the lone objection is not sent under its day
    rate(store, "objection", tuesday + timedelta(days=1), 2, "obj-wed")
    assert store.release_ratings(end_of(tuesday + timedelta(days=1))) == 0  # three in the week: not yet
    assert store.release_ratings(end_of(tuesday + timedelta(days=1))) == 0  # asked again: the same
    rate(store, "objection", tuesday + timedelta(days=2), 2, "obj-thu")
    assert store.release_ratings(end_of(tuesday + timedelta(days=2))) == 5
    assert sent(store)[("objection", "2026-11-09")] == 5  # under the week's Monday
    assert not any(service == "objection" and day != "2026-11-09" for service, day in sent(store))
    assert held(store) == 0


def test_what_a_week_cannot_gather_goes_under_its_month(store: Store) -> None:
    for day in (date(2026, 11, 3), date(2026, 11, 17), date(2026, 11, 25)):
        rate(store, "complaint", day, 1, f"c-{day}")
    assert store.release_ratings(end_of(date(2026, 11, 29))) == 0  # three in the month: held
    rate(store, "complaint", date(2026, 11, 30), 2, "c-30")
    assert store.release_ratings(end_of(date(2026, 11, 30))) == 5  # the month is over: five in it
    assert sent(store) == {("complaint", "2026-11-01"): 5}


def test_the_rule_itself() -> None:
    assert week_label(date(2026, 11, 12)) == date(2026, 11, 9)
    assert week_label(date(2026, 10, 1)) == date(2026, 10, 1)  # its Monday is in September: the month's first
    ended = date(2026, 12, 9)
    late = [(f"n{i}", "status-check", date(2026, 11, 20), ended) for i in range(2)]  # November's, still short
    december = [(f"d{d}", "status-check", date(2026, 12, d), ended) for d in (1, 2, 3, 8)]
    chosen = k_anonymous(late + december)
    assert set(chosen.values()) == {date(2026, 12, 1)}  # November's join the month now running
    assert set(chosen) == {"n0", "n1", "d1", "d2", "d3"}  # the 8th's week (7th to 13th) is not over
    assert k_anonymous(late + december, k=2)["n0"] == date(2026, 11, 20)  # a smaller k: its own day
    assert k_anonymous(late + december, k=3)["d1"] == date(2026, 12, 1)  # the 1st to 3rd: the week's label


def test_the_stream_never_carries_fewer_than_k_under_one_service_and_day(store: Store) -> None:
    """Sixty days of a small kiosk (a seeded random few ratings a day), released each evening: every release
    sends each (service, day) it sends at least K times, and every rating is sent under its own day, its
    week's label or a month's first day, never a later month than it was sent in."""
    pick = random.Random(1402)
    services = ("request", "complaint", "objection", "status-check")
    start = date(2026, 9, 1)
    made: dict[str, date] = {}
    for offset in range(60):
        day = start + timedelta(days=offset)
        for i in range(pick.choice((0, 0, 1, 2, 3, 7))):
            uuid = f"{day}-{i}"
            store.add_rating(pick.choice(services), {"u2": pick.randint(1, 4)}, day=day, uuid=uuid)
            made[uuid] = day
        before = {u for (u,) in store.conn.execute("SELECT uuid FROM ratings")}
        store.release_ratings(end_of(day))
        batch = store.conn.execute("SELECT uuid, service, day FROM ratings").fetchall()
        groups = Counter((service, label) for uuid, service, label in batch if uuid not in before)
        assert all(n >= K_ANONYMITY for n in groups.values()), (day, groups)
        for uuid, _, label in batch:
            sent_as = date.fromisoformat(label)
            assert sent_as in (made[uuid], week_label(made[uuid])) or (
                sent_as.day == 1 and made[uuid].replace(day=1) <= sent_as <= day
            ), (uuid, label)
    released = store.conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
    assert released + held(store) == len(made) and released > len(made) // 2
