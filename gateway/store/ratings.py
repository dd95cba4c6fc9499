"""The citizens' satisfaction ratings (Survei Kepuasan Masyarakat, PermenPANRB 14/2017; docs/skm.md): saved
anonymous, held until their day is over, then released into stream ``ratings`` in random order."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from gateway.errors import StoreError
from gateway.store import db
from gateway.store.base import StoreBase
from gateway.vocabulary import SKM_ELEMENTS, SKM_SERVICES


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

    def release_ratings(self, now_ms: int | None = None) -> int:
        """Move the held ratings whose day is over (``release_ms <= now_ms``, default the store's clock) into
        stream ``ratings``, in random order, in one transaction; answer how many. The sync side calls it before
        each drain; running it twice is harmless. Raises StoreError when the store cannot be written."""
        now_ms = self.clock.now_ms() if now_ms is None else now_ms
        columns = ", ".join(("uuid", "service", "day", *SKM_ELEMENTS))
        with db.transaction(self.conn, "releasing ratings"):
            cur = self.conn.execute(
                f"INSERT INTO ratings ({columns}) SELECT {columns} FROM ratings_held WHERE release_ms <= ? "
                "ORDER BY random() ON CONFLICT (uuid) DO NOTHING",
                (now_ms,),
            )
            self.conn.execute("DELETE FROM ratings_held WHERE release_ms <= ?", (now_ms,))
        return cur.rowcount
