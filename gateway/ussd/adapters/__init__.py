"""Aggregator adapters: `gateway.ussd.adapters.<name>` exposes `adapter`."""

from __future__ import annotations

import functools
import importlib
import re

from gateway.ussd.interfaces import UssdAdapter

NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


@functools.cache
def load_adapter(name: str) -> UssdAdapter | None:
    """The adapter named in the callback URL, or None when there is no such module."""
    if not NAME.match(name):
        return None
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError:
        return None
    adapter: UssdAdapter | None = getattr(module, "adapter", None)
    return adapter
