"""One list of cash networks: the screens' options and names cover exactly the database's codes."""

from __future__ import annotations

from menus.networks import NETWORK_NAMES, NETWORK_OPTIONS
from models.payments import NETWORKS


def test_the_menus_offer_and_name_exactly_the_networks_the_database_accepts() -> None:
    assert sorted(NETWORK_OPTIONS.values()) == sorted(NETWORKS)
    assert sorted(NETWORK_NAMES) == sorted(NETWORKS)
    assert list(NETWORK_OPTIONS) == [str(option) for option in range(1, len(NETWORKS) + 1)]
