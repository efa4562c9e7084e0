"""The whole conversation: the artisan's screens and the agent's, in one engine."""

from __future__ import annotations

from menus import agent, artisan, cashpoints, help, payments, registration, reimbursements
from menus.engine import Engine

SCREENS = {
    **artisan.SCREENS,
    **payments.SCREENS,
    **reimbursements.SCREENS,
    **help.SCREENS,
    **cashpoints.SCREENS,
    **registration.SCREENS,
    **agent.SCREENS,
}
# A session on its way through these is never resumed: they hold what was typed for
# identification (the CIN), or come after a money step (a reference issued, a request
# stored): a resume would start that step again.
NO_RESUME = (
    frozenset({"identify_cin", "identify_year", "identify_failed", "pay_reference", "help_done"})
    | registration.NO_RESUME
)
MENU = Engine(SCREENS, home="main", agent_home="agent_home", resume_screen="resume", no_resume=NO_RESUME)
