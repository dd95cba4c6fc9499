"""The back office's errors and the one place that gives each its HTTP status."""

from __future__ import annotations

from sync.central.errors import CentralError


class BackofficeError(CentralError):
    """An officer's request cannot be carried out (bad input or a step not allowed now); answered with 400."""


class NotAllowed(BackofficeError):
    """The officer's role (or OPD) does not allow this; answered with 403."""


class NotFoundError(BackofficeError):
    """No such case, user or item; answered with 404."""


class Conflict(BackofficeError):
    """The item is not in a state that allows this step (e.g. a second extension); answered with 409."""


class LoginRefused(BackofficeError):
    """Wrong name or password, a disabled account, or a locked one; answered with the login page and 401."""


class LoginBusy(BackofficeError):
    """Every password-check slot is taken (a login flood); answered with the login page and 503."""


class TooLarge(BackofficeError):
    """An upload is larger than the back office accepts; answered with 413 (a styled page)."""


STATUS = {NotAllowed: 403, NotFoundError: 404, Conflict: 409, LoginRefused: 401, LoginBusy: 503, TooLarge: 413,
          BackofficeError: 400}  # fmt: skip


def status_of(err: BackofficeError) -> int:
    """The HTTP status of a back-office error (the most specific class that matches)."""
    for kind, status in STATUS.items():
        if isinstance(err, kind):
            return status
    return 400
