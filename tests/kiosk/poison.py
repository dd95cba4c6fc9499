"""Computations for the render worker's tests: one that never ends, one that fails, one that answers."""

from __future__ import annotations

from typing import Any


def forever(_arg: Any) -> None:
    while True:
        pass


def fail(_arg: Any) -> None:
    raise ValueError("broken on purpose")


def echo(arg: Any) -> Any:
    return arg
