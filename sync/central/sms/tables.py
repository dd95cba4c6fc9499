"""The SMS queue's table (migrations ``sms01``, ``sms02``, ``sms03``) and its channels' state (``sms04``).

The citizen's phone number is not copied here: the worker reads it from the submission's personal data when it
sends (so that it is kept in one place, and purged with it). The queue keeps a keyed hash of the number (for the
daily cap per number) and a masked form (for the back office's list of failures).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

STATES = ("pending", "sending", "sent", "failed", "dropped")

outbox = sa.Table(
    "sms_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # one message per (submission, status change): "<gateway>/<number>/<event>/<step>"
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    sa.Column("gateway_id", sa.String(64), nullable=False),
    sa.Column("number", sa.String(64), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),  # answered, extended, deferred, rejected, closed
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("phone_hash", sa.String(64)),  # HMAC-SHA256 of the number (the daily cap), set when sent
    sa.Column("phone_masked", sa.String(32), nullable=False),  # e.g. +62812*****890
    # pending -> sending -> sent; failed after the last attempt, or when a send was interrupted; dropped: the
    # number was gone (purged) when its turn came
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_ms", sa.BigInteger, nullable=False),  # not before this moment (backoff, daily cap)
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("claimed_ms", sa.BigInteger),  # when the current attempt began
    sa.Column("claimed_by", sa.String(128)),  # the worker sending it, "<host>:<pid>" (migration sms02)
    sa.Column("sent_ms", sa.BigInteger),
    sa.Column("sent_day", sa.String(10)),  # the office's day (WIB) it was sent: the daily cap counts these
    sa.Column("reference", sa.String(64)),  # the modem's +CMGS reference or the gateway's answer
    sa.Column("last_error", sa.Text),  # never holds the number (scrubbed)
    # what kind of failure last_error is (sync/central/sms/senders.py KINDS; migration sms03)
    sa.Column("error_kind", sa.String(24)),
    sa.Index("sms_outbox_due", "state", "next_ms"),
    sa.Index("sms_outbox_cap", "phone_hash", "sent_day"),
)

# the state of each way out (the sender of ANJUNGAN_CENTRAL_SERVER_SMS_SENDER: modem or http), shown on the back
# office's SMS page: "down" while the channel itself fails (the port cannot be opened, the modem does not answer,
# the gateway cannot be reached), "up" again once a message got through to the modem or gateway (migration sms04)
channels = sa.Table(
    "sms_channel",
    metadata,
    sa.Column("name", sa.String(16), primary_key=True),  # modem, http
    sa.Column("state", sa.String(8), nullable=False),  # up, down
    sa.Column("error", sa.Text),  # why it is down (never holds a number: scrubbed)
    sa.Column("since_ms", sa.BigInteger),  # when it went down
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),  # rounds it failed, in a row
    sa.Column("next_ms", sa.BigInteger),  # no round tries it before this moment (backoff)
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)
