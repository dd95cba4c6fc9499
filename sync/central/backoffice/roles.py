"""The back office's roles and what each may do (one table, read by the views' guards and the tests).

Roles follow the PPID structure of Perki 1/2021: the PPID Utama (``ppid``) handles every request, complaint
and objection; a PPID Pelaksana (``pelaksana``) is an OPD's officer and sees only what is assigned to the OPD;
the Atasan PPID (``atasan``) decides objections (UU 14/2008 Ps. 36); ``admin`` manages accounts, gateways and
settings; ``teknisi`` sees the fleet only and never a citizen's data.
"""

from __future__ import annotations

ROLES = ("admin", "ppid", "pelaksana", "atasan", "teknisi")

# capability -> the roles that have it
CAPABILITIES: dict[str, frozenset[str]] = {
    "fleet": frozenset({"admin", "teknisi", "ppid"}),  # the fleet, alerts (acknowledge), completeness, charts
    "fleet_edit": frozenset(
        {"admin", "teknisi"}
    ),  # places of kiosks and nodes, nodes' producers and intervals
    "users": frozenset({"admin"}),
    "audit": frozenset({"admin"}),
    "settings": frozenset({"admin"}),
    "inbox": frozenset({"ppid", "pelaksana", "atasan"}),
    "triage": frozenset({"ppid"}),  # verify, refuse, assign, defer, close
    "answer": frozenset({"ppid", "pelaksana"}),  # answer, extend, respond, attach (pelaksana: own OPD only)
    "decide": frozenset({"atasan"}),  # objections
    "personal": frozenset({"ppid", "pelaksana", "atasan"}),
    "templates": frozenset({"ppid"}),
    "publish": frozenset({"ppid"}),
    "opendata": frozenset({"ppid"}),  # withhold a complaint from open data (Open311) and publish it again
    "reports": frozenset({"admin", "ppid", "atasan"}),
    "sms": frozenset({"admin", "ppid"}),  # the SMS to citizens that failed (masked numbers), retry one
}


def can(role: str, capability: str) -> bool:
    """Whether ``role`` has ``capability`` (a key of :data:`CAPABILITIES`; KeyError for an unknown one)."""
    return role in CAPABILITIES[capability]


# The page an officer lands on after logging in.
HOME = {
    "admin": "backoffice_admin.users",
    "ppid": "backoffice_inbox.inbox",
    "pelaksana": "backoffice_inbox.inbox",
    "atasan": "backoffice_inbox.inbox",
    "teknisi": "backoffice_admin.fleet",
}
