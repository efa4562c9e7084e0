"""Authenticating aggregator callbacks: a secret key in the URL and an optional IP list."""

from __future__ import annotations

import hmac
import ipaddress
from functools import cache

from flask import request

from gateway.config import Settings


@cache
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in allowed)


def callback_refusal(settings: Settings) -> str | None:
    """Why the current callback must be refused (`key` or `ip`), or None."""
    given = request.args.get("key", "").encode()
    if not hmac.compare_digest(given, settings.ussd_callback_key.encode()):
        return "key"
    if settings.ussd_allowed_ips:
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            return "ip"
        if not any(address in network for network in _networks(settings.ussd_allowed_ips)):
            return "ip"
    return None
