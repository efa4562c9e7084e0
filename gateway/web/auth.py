"""Authenticating aggregator callbacks: a secret key in the URL and an optional IP list.

The rules take plain values (the key given, the caller's address), so that the hop's
lean WSGI path (gateway/web/hop_wsgi.py) and the Flask views apply the same ones."""

from __future__ import annotations

import hmac
import ipaddress
from functools import cache

from flask import request
from werkzeug.exceptions import HTTPException, TooManyRequests

from gateway.config import Settings
from gateway.metrics import REJECTED
from gateway.ratelimit import Limit
from gateway.wiring import hirfa


@cache
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in allowed)


def callback_refusal(
    settings: Settings, *, key: str, remote_addr: str | None, keys: tuple[str, ...] | None = None
) -> str | None:
    """Why a callback given `key` (the URL's) from `remote_addr` (the caller's, ProxyFix
    having run) must be refused (`key` or `ip`), or None. `keys`: those that open it
    (default USSD_CALLBACK_KEY and its fallbacks). Rate limits are the caller's to check
    (`limit_per_ip`): not every callback needs one."""
    given = key.encode()
    if keys is None:
        keys = (settings.ussd_callback_key, *settings.ussd_callback_key_fallbacks)
    # Every key is compared (no early exit), so the time taken tells nothing of which matched.
    if not [one for one in keys if hmac.compare_digest(given, one.encode())]:
        return "key"
    if settings.ussd_allowed_ips and not client_within(settings.ussd_allowed_ips, remote_addr):
        return "ip"
    return None


def _client(remote_addr: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The caller's address (behind TRUSTED_PROXIES only, ProxyFix having run), IPv4-mapped
    IPv6 read as IPv4; None when there is none to read."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_within(allowed: tuple[str, ...], remote_addr: str | None) -> bool:
    """Whether the caller's address is in one of the `allowed` addresses or networks."""
    address = _client(remote_addr)
    return address is not None and any(address in network for network in _networks(allowed))


def client_is_loopback(remote_addr: str | None) -> bool:
    """Whether the caller is this machine (127.0.0.0/8 or ::1)."""
    address = _client(remote_addr)
    return address is not None and address.is_loopback


def limit_per_ip(scope: str, per_minute: int) -> None:
    """Count this request against the caller's IP in `scope`; over `per_minute`, refuse
    it with 429 and Retry-After (each blueprint renders it in its callers' format)."""
    wait = hirfa().limiter.exceeded(scope, request.remote_addr or "unknown", Limit(per_minute))
    if wait is not None:
        REJECTED.labels(scope, "rate").inc()
        raise TooManyRequests(retry_after=wait)


def retry_after_header(error: HTTPException) -> dict[str, str]:
    """The Retry-After header a refusal carries, if any, for handlers that build their own response."""
    return {name: value for name, value in error.get_headers() if name == "Retry-After"}
