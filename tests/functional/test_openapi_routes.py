"""The OpenAPI document and the partner API's routes name the same operations: a route
added without its documentation (or documentation left behind by a removed route) fails."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask

from gateway.web.openapi import API_PREFIX, openapi_document

# The document itself is served beside the API, unsigned; it does not describe itself.
NOT_DOCUMENTED = {("GET", f"{API_PREFIX}/openapi.json")}
HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}  # HEAD and OPTIONS come with Flask's rules


def routed(app: Flask) -> set[tuple[str, str]]:
    """(method, path) of every /api/v1 rule, written as OpenAPI writes paths."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.rule == API_PREFIX or rule.rule.startswith(API_PREFIX + "/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            operations |= {(method, path) for method in (rule.methods or set()) & HTTP_METHODS}
    return operations - NOT_DOCUMENTED


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def test_every_api_route_is_documented_and_every_documented_operation_is_routed(app: Flask) -> None:
    assert routed(app) == documented(openapi_document())
    assert ("POST", f"{API_PREFIX}/payments/{{receipt}}/reversal") in routed(app)  # not vacuous


def test_an_undocumented_route_is_caught(make_app: Callable[..., Flask]) -> None:
    extra = make_app()
    extra.add_url_rule(f"{API_PREFIX}/refunds/<int:refund_id>", "refund", lambda refund_id: "", methods=["DELETE"])
    assert routed(extra) - documented(openapi_document()) == {("DELETE", f"{API_PREFIX}/refunds/{{refund_id}}")}


def test_a_documented_operation_without_a_route_is_caught(app: Flask) -> None:
    document = openapi_document()
    stale = {**document, "paths": {**document["paths"], f"{API_PREFIX}/refunds": {"get": {}}}}
    assert documented(stale) - routed(app) == {("GET", f"{API_PREFIX}/refunds")}
