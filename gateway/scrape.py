"""Who may read a ``/metrics`` page: the one check the kiosk's and the central's Prometheus endpoints share.

Standard library only: the lowest layer, imported by the kiosk and the central alike.
"""

from __future__ import annotations

import hmac
import ipaddress


def refusal(remote: str | None, authorization: str | None, token: str, allow: str) -> int | None:
    """None when a scrape may read the metrics, else the HTTP status to refuse it with (403 or 401).

    ``remote``: the scraper's address; ``authorization``: its ``Authorization`` header; ``token``: the bearer
    token required (empty: none); ``allow``: comma-separated addresses or networks that may scrape (empty: any).
    An address outside ``allow`` gets 403, a missing or wrong bearer token 401 (RFC 6750; the token is compared
    in constant time). Raises ValueError for a malformed ``allow``.
    """
    if allow.strip():
        networks = [ipaddress.ip_network(p.strip(), strict=False) for p in allow.split(",") if p.strip()]
        try:
            address = ipaddress.ip_address(remote or "")
        except ValueError:
            return 403
        if not any(address in network for network in networks):
            return 403
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return 401
    return None
