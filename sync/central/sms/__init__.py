"""SMS to citizens when an officer answers, extends, defers or closes their submission (docs/sms.md).

- :mod:`.tables`: the queue (``sms_outbox``, migration ``sms01``), the channels' state (``sms_channel``, ``sms04``)
  and the submission's opt-in column.
- :mod:`.settings`: the ``ANJUNGAN_CENTRAL_SERVER_SMS_*`` settings (sender, daily cap, backoff).
- :mod:`.queue`: what goes into the queue (one message per status change, keyed) and the texts.
- :mod:`.senders`: a GSM modem over AT commands (pyserial) and an HTTP SMS gateway.
- :mod:`.worker`: sends what is due, once, with backoff and the daily cap per number.
"""
