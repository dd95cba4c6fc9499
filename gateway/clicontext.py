"""What every command shares: the configuration path from ``--config`` and the config loaded on first use."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gateway import config as config_mod

F = TypeVar("F", bound=Callable[..., Any])


class AppContext:
    def __init__(self, config_path: Path | None = None):
        self.config_path = config_path
        self._config: config_mod.Config | None = None

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = config_mod.load(self.config_path)
        return self._config


def app_context() -> AppContext:
    ctx = click.get_current_context()
    obj = ctx.find_object(AppContext)
    if obj is None:  # a command invoked on its own (tests)
        obj = ctx.ensure_object(AppContext)
    return obj


def pass_config(func: F) -> F:
    """Decorator: call the command with the loaded :class:`~gateway.config.Config` as its first argument."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(app_context().config, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
