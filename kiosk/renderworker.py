"""Computations on data in a child process, each bounded in time: a chart or a page that never finishes is
killed, never left to hold one of the kiosk's request threads.

:class:`BoundedWorker` keeps one child (``python -m kiosk.renderworker``) and sends it one call at a time as a
JSON line ``{"call": "module:function", "arg": ...}``; the child answers ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "..."}``. A call that has not answered within its bound kills the child (the next call
starts a fresh one) and raises :class:`RenderTimeout`. Calls wait for the child at most their own bound too, so
a request thread is never held longer than ``timeout_s`` (plus the child's start on first use).

Only the kiosk's own code names the functions: a citizen's input never chooses what runs.
"""

from __future__ import annotations

import importlib
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from typing import IO, Any

from gateway.errors import AnjunganError

START_TIMEOUT_S = 30.0
IDLE_STOP_S = 120.0  # a child without a call this long is stopped (its memory given back; started on use)


class RenderError(AnjunganError):
    """A bounded computation failed (the message says why); the caller shows "data belum tersedia"."""


class RenderTimeout(RenderError):
    """A bounded computation did not finish in time (its child was killed) or the worker stayed busy."""


class BoundedWorker:
    """One child process running one call at a time, each bounded by ``timeout_s`` seconds."""

    def __init__(self, timeout_s: float, idle_stop_s: float = IDLE_STOP_S):
        """``timeout_s``: the bound of one call; ``idle_stop_s``: the child is stopped after this long without a
        call (the next call starts a fresh one), so that an idle kiosk does not keep its memory."""
        self.timeout_s = timeout_s
        self.idle_stop_s = idle_stop_s
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._last_call = 0.0  # monotonic s
        self._idle_watch: threading.Thread | None = None
        self._closing = threading.Event()  # wakes the idle watch to end

    def call(self, target: str, arg: Any, timeout_s: float | None = None) -> Any:
        """``target(arg)`` ("module:function") in the child; its JSON-able result.

        Raises :class:`RenderTimeout` when the worker stays busy or the call overruns ``timeout_s`` (default:
        the worker's bound), :class:`RenderError` when the call raised in the child or the child died.
        """
        bound = self.timeout_s if timeout_s is None else timeout_s
        if not self._lock.acquire(timeout=bound):
            raise RenderTimeout(f"{target}: the worker stayed busy for {bound:.1f} s")
        try:
            proc = self._ensure()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps({"call": target, "arg": arg}).encode() + b"\n")
                proc.stdin.flush()
            except OSError as err:
                self._kill()
                raise RenderError(f"{target}: the worker is gone ({err})") from err
            line = self._read_line(proc.stdout, time.monotonic() + bound)
            if line is None:
                self._kill()
                raise RenderTimeout(f"{target}: no answer within {bound:.1f} s (stopped)")
            answer = json.loads(line)
            if not answer.get("ok"):
                raise RenderError(f"{target}: {answer.get('error')}")
            return answer.get("result")
        finally:
            self._last_call = time.monotonic()
            self._lock.release()

    def close(self) -> None:
        """Stop the child (idempotent)."""
        self._closing.set()
        with self._lock:
            self._kill()
        if self._idle_watch is not None:
            self._idle_watch.join(10)
        self._closing.clear()

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._kill()
        proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.renderworker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, close_fds=True,
        )  # fmt: skip
        assert proc.stdout is not None
        self._proc, self._buffer = proc, b""
        if self._read_line(proc.stdout, time.monotonic() + START_TIMEOUT_S) is None:  # the child's "ready"
            self._kill()
            raise RenderError("the render worker did not start")
        self._last_call = time.monotonic()
        if self._idle_watch is None or not self._idle_watch.is_alive():
            self._idle_watch = threading.Thread(target=self._stop_when_idle, name="render-idle", daemon=True)
            self._idle_watch.start()
        return proc

    def _stop_when_idle(self) -> None:
        """Stop the child once no call came for ``idle_stop_s``; ends with the child."""
        while not self._closing.wait(max(0.05, self._last_call + self.idle_stop_s - time.monotonic())):
            if time.monotonic() - self._last_call < self.idle_stop_s:
                continue  # a call came meanwhile
            if not self._lock.acquire(blocking=False):
                continue  # one is running
            try:
                if time.monotonic() - self._last_call >= self.idle_stop_s:
                    self._kill()
                if self._proc is None:
                    return
            finally:
                self._lock.release()

    def _read_line(self, stream: IO[bytes], deadline: float) -> bytes | None:
        """One line from the child before ``deadline`` (monotonic s), or None."""
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(stream.fileno(), 1 << 16)
                if not chunk:
                    return None
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _kill(self) -> None:
        proc, self._proc, self._buffer = self._proc, None, b""
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def _run(request: dict[str, Any]) -> Any:
    module, _, name = str(request["call"]).partition(":")
    return getattr(importlib.import_module(module), name)(request.get("arg"))


def _die_with_parent() -> None:
    """Exit when the kiosk process is gone, even in the middle of a computation that never ends."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def main() -> None:
    """The child's loop: one JSON request per line on stdin, one JSON answer per line on stdout."""
    threading.Thread(target=_die_with_parent, name="render-parent-watch", daemon=True).start()
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print in a computation must not break the answers
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        try:
            answer = {"ok": True, "result": _run(json.loads(line))}
        except Exception as err:  # any failure of the computation is the caller's "not available"
            answer = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        out.write(json.dumps(answer).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
