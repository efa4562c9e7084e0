"""The whole conversation: the artisan's screens and the agent's, in one engine."""

from __future__ import annotations

from menus import agent, artisan, cashpoints, help, payments, reimbursements
from menus.engine import Engine

SCREENS = {
    **artisan.SCREENS,
    **payments.SCREENS,
    **reimbursements.SCREENS,
    **help.SCREENS,
    **cashpoints.SCREENS,
    **agent.SCREENS,
}
MENU = Engine(SCREENS, home="main", agent_home="agent_home")
