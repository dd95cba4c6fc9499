"""The citizens' satisfaction ratings (Survei Kepuasan Masyarakat, PermenPANRB 14/2017; docs/skm.md): saved
anonymous, held until their day is over, then released into stream ``ratings`` in random order, only in
groups of at least :data:`K_ANONYMITY` ratings of one service and one day (or else, coarsened, of one week or
one month): docs/skm.md, "k-anonymity"."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from gateway.errors import StoreError
from gateway.store import db
from gateway.store.base import StoreBase
from gateway.vocabulary import SKM_ELEMENTS, SKM_SERVICES

K_ANONYMITY = 5  # the fewest ratings the stream ever carries under one (service, day) (docs/skm.md)
DAY_MS = 86_400_000


def week_label(day: date) -> date:
    """The day a rating of ``day`` is sent under when its day is coarsened to its week: the week's Monday, or
    the first of the month when the week began in the month before (a rating never leaves its month)."""
    return max(day - timedelta(days=day.weekday()), day.replace(day=1))


def _week_end(day: date) -> date:
    """The last day of the week part ``day`` is in: the week's Sunday, or the month's last day."""
    sunday = day + timedelta(days=6 - day.weekday())
    month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return min(sunday, month_end)


def k_anonymous(held: list[tuple[str, str, date, date]], k: int = K_ANONYMITY) -> dict[str, date]:
    """Which held ratings may be released now, and under which day: ``held`` lists each held rating whose day
    is over as ``(uuid, service, day, ended)``, ``ended`` the last local day that is over now (the same for
    all); answers uuid -> the day to send it under. Only groups of at least ``k`` ratings go, in this order:

    1. the ratings of one service and one day (under that day);
    2. those left, of one service and one week part (Monday to Sunday within one month), under
       :func:`week_label`;
    3. those left whose week part is over, of one service, under the first day of the month of ``ended``
       (a rating of an earlier month still short of ``k`` joins the month now running).

    Whatever no group of ``k`` takes stays held and is tried again at the next release (docs/skm.md,
    "k-anonymity"; Sweeney, "k-anonymity: a model for protecting privacy", 2002).
    """
    chosen: dict[str, date] = {}
    left = list(held)
    levels = (
        lambda row: row[2],
        lambda row: week_label(row[2]),
        lambda row: row[3].replace(day=1) if _week_end(row[2]) <= row[3] else None,
    )
    for label_of in levels:
        groups: defaultdict[tuple[str, date], list[str]] = defaultdict(list)
        for row in left:
            label = label_of(row)
            if label is not None:
                groups[(row[1], label)].append(row[0])
        for (_, label), uuids in groups.items():
            if len(uuids) >= k:
                chosen.update(dict.fromkeys(uuids, label))
        left = [row for row in left if row[0] not in chosen]
    return chosen


class RatingsMixin(StoreBase):
    """The ratings' queries of :class:`~gateway.store.Store`."""

    def add_rating(
        self,
        service: str,
        ratings: Mapping[str, int | None],
        *,
        day: date,
        uuid: str,
        release_ms: int | None = None,
    ) -> bool:
        """Save one citizen's anonymous satisfaction rating; answer True when stored, False when the rating
        ``uuid`` was stored already (a double tap or a resend: idempotent).

        The rating is held (``ratings_held``) until ``release_ms`` (ms since the epoch: the end of the kiosk's
        local ``day``; default the end of ``day`` in UTC), when :meth:`release_ratings` moves the day's ratings
        into stream ``ratings`` in random order (docs/skm.md, "At the kiosk").

        ``service`` is one of :data:`~gateway.vocabulary.SKM_SERVICES`; ``ratings`` maps element keys
        (:data:`~gateway.vocabulary.SKM_ELEMENTS`, ``u1`` .. ``u9``) to 1-4, or None (or absent) for an
        element the citizen skipped; at least one must be rated. ``day`` is the kiosk's local date: the only
        time kept. Nothing else is stored with it (no number, NIK, session or time of day): PermenPANRB
        14/2017 asks for an anonymous survey. ``uuid`` is a random id of the rating form (1 to 64 characters).

        Raises :class:`StoreError` for an unknown service or element, a rating outside 1-4, no rating at
        all, a bad uuid, or when the store cannot be written (:class:`StoreFullError` on a full disk).
        """
        if service not in SKM_SERVICES:
            raise StoreError(f"a rating's service is one of {', '.join(SKM_SERVICES)}, not {service!r}")
        unknown = set(ratings) - set(SKM_ELEMENTS)
        if unknown:
            raise StoreError(f"unknown survey element(s): {', '.join(sorted(unknown))}")
        values = [ratings.get(element) for element in SKM_ELEMENTS]
        if any(v is not None and (type(v) is not int or not 1 <= v <= 4) for v in values):
            raise StoreError("each survey element is rated 1 to 4 (or skipped)")
        if all(v is None for v in values):
            raise StoreError("a rating rates at least one element")
        if not 0 < len(uuid) <= 64:
            raise StoreError("a rating's uuid has 1 to 64 characters")
        if release_ms is None:
            release_ms = (
                int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000) + 86_400_000
            )
        columns = ", ".join(SKM_ELEMENTS)
        conn = self.durable_conn
        with db.transaction(conn, "saving the rating"):
            if conn.execute("SELECT 1 FROM ratings WHERE uuid = ?", (uuid,)).fetchone():
                return False
            cur = conn.execute(
                f"INSERT INTO ratings_held (uuid, service, day, {columns}, release_ms) VALUES (?, ?, ?, "
                f"{', '.join('?' * len(SKM_ELEMENTS))}, ?) ON CONFLICT (uuid) DO NOTHING",
                (uuid, service, day.isoformat(), *values, release_ms),
            )
        return cur.rowcount == 1

    def release_ratings(self, now_ms: int | None = None, k: int = K_ANONYMITY) -> int:
        """Move the held ratings whose day is over (``release_ms <= now_ms``, default the store's clock) into
        stream ``ratings``, in random order, in one transaction, but only in groups of at least ``k`` of one
        service (:func:`k_anonymous`: one day, else its week, else its month); answer how many moved. A rating
        sent under a coarser day carries that day (a Monday or the first of a month) in its ``day``; the
        others stay held for a later release. The sync side calls it before each drain; running it twice is
        harmless. Raises StoreError when the store cannot be written."""
        now_ms = self.clock.now_ms() if now_ms is None else now_ms
        elements = ", ".join(SKM_ELEMENTS)
        with db.transaction(self.conn, "releasing ratings"):
            due = self.conn.execute(
                f"SELECT uuid, service, day, release_ms, {elements} FROM ratings_held WHERE release_ms <= ?",
                (now_ms,),
            ).fetchall()
            held = []
            for uuid, service, day, release_ms, *_ in due:
                ended = date.fromisoformat(day) + timedelta(days=(now_ms - release_ms) // DAY_MS)
                held.append((uuid, service, date.fromisoformat(day), ended))
            chosen = k_anonymous(held, k)
            rows = [(r[0], r[1], chosen[r[0]].isoformat(), *r[4:]) for r in due if r[0] in chosen]
            random.SystemRandom().shuffle(rows)  # neither the order made nor the order held
            cur = self.conn.executemany(
                f"INSERT INTO ratings (uuid, service, day, {elements}) VALUES (?, ?, ?, "
                f"{', '.join('?' * len(SKM_ELEMENTS))}) ON CONFLICT (uuid) DO NOTHING",
                rows,
            )
            self.conn.executemany("DELETE FROM ratings_held WHERE uuid = ?", [(r[0],) for r in rows])
        return cur.rowcount
