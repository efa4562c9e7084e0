"""The whole conversation: the artisan's screens and the agent's, in one engine."""

from __future__ import annotations

from menus import agent, artisan, banks, cashpoints, help, payments, registration, reimbursements, reminders
from menus.engine import Engine

SCREENS = {
    **artisan.SCREENS,
    **reminders.SCREENS,
    **payments.SCREENS,
    **reimbursements.SCREENS,
    **help.SCREENS,
    **banks.SCREENS,
    **cashpoints.SCREENS,
    **registration.SCREENS,
    **agent.SCREENS,
}
# A session on its way through these is never resumed: they hold what was typed for
# identification (the CIN), or come after a money step (a reference issued, a request
# stored): a resume would start that step again.
NO_RESUME = (
    frozenset({"identify_cin", "identify_year", "identify_failed", "pay_reference", "help_done", "bank_done"})
    | registration.NO_RESUME
)
# A cut-off session is offered again only on these: each holds a choice made inside a
# task (months or all due, then a network; a region, then a province; a bank; a trade, then
# a place to be registered). A menu or an information screen is one answer away from home,
# no more than taking up the offer.
RESUME_AT = frozenset(
    {"pay_network", "pay_confirm", "cashpoints_provinces", "cashpoints_list", "bank_consent"}
    | {"rna_region", "rna_province", "rna_commune"}
)
MENU = Engine(
    SCREENS, home="main", agent_home="agent_home", resume_screen="resume", no_resume=NO_RESUME, resume_at=RESUME_AT
)
