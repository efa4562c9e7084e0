"""The cash networks where artisans pay, in one place: their codes (as stored), their option
numbers on the "where will you pay?" screen, and their display names (catalogue texts).

The database's CHECK constraints list the same codes (models/payments.py NETWORKS: the
models may not import the menus); tests/unit/test_networks.py holds the two equal."""

from __future__ import annotations

from menus.i18n import N_

NETWORK_OPTIONS = {"1": "wafacash", "2": "fellah_cash"}
NETWORK_NAMES = {"wafacash": N_("Wafacash"), "fellah_cash": N_("Fellah Cash")}
