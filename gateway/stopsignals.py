"""Stopping a long-running command on SIGTERM or SIGINT: one way for every process of anjungan.

systemd stops a service with SIGTERM (systemd.kill(5)), a terminal with SIGINT (Ctrl-C), ``anjungan run`` its
children with SIGTERM to their process group. Each long-running command (the ingest, the sync, the monitor, the
simulated board, the supervisor, the central's schedules) runs its loop inside :func:`stop_on_signals`: the
signal only asks the loop to stop (an Event it waits on, a board's stop flag), so the loop ends at its own pace
and what it holds is committed before the process exits. Standard library only: the lowest layer.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals(
    on_stop: Callable[[], object], signals: Iterable[signal.Signals] = STOP_SIGNALS
) -> Iterator[None]:
    """While inside, each of ``signals`` (SIGTERM and SIGINT) calls ``on_stop()`` (e.g. ``event.set``)
    instead of its default action; the handlers found before are put back on the way out.

    Python runs signal handlers in the main thread only (``signal`` module docs): called from another thread
    (a test's runner, an embedding program), it installs nothing, and whoever owns the main thread decides.
    ``on_stop`` runs between two bytecodes of the main thread: it must only set a flag, never block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in signals}
    try:
        for sig in previous:
            signal.signal(sig, lambda _signum, _frame: on_stop())
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
