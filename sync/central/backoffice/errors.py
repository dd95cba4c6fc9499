"""The back office's errors, each with the HTTP status of the page that answers it (``status``, read by the
blueprints' error page through :func:`sync.central.errors.status_of`)."""

from __future__ import annotations

from sync.central.errors import CentralError


class BackofficeError(CentralError):
    """An officer's request cannot be carried out (bad input or a step not allowed now); answered with 400."""

    status = 400


class NotAllowed(BackofficeError):
    """The officer's role (or OPD) does not allow this; answered with 403."""

    status = 403


class NotFoundError(BackofficeError):
    """No such case, user or item; answered with 404."""

    status = 404


class Conflict(BackofficeError):
    """The item is not in a state that allows this step (e.g. a second extension); answered with 409."""

    status = 409


class LoginRefused(BackofficeError):
    """Wrong name or password, a disabled account, or a locked one; answered with the login page and 401."""

    status = 401


class LoginBusy(BackofficeError):
    """Every password-check slot is taken (a login flood); answered with the login page and 503."""

    status = 503


class TooLarge(BackofficeError):
    """An upload is larger than the back office accepts; answered with 413 (a styled page)."""

    status = 413
