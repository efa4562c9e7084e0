"""The voice line's rules around the menus: its languages and their keys, the keys of
a call, and which screens take more than one key. No I/O.

A call: the language offer (each offered language announced in itself, with its key),
then the menus' screens (gateway/voice/adapter.py renders them), through the USSD hop
path (gateway/web/ussd.run_hop). Keys: a digit answers, `0` back (the menus' own),
`*` says the prompt again (nothing run), `#` ends an entry of several digits; no key
within VOICE_ANSWER_SECONDS says the prompt again once, then ends the call politely.
"""

from __future__ import annotations

import re

from menus.engine import Reply
from menus.i18n import N_

# The voice languages in the order of their keys (1, 2, ...): a language keeps its key
# whether or not it is offered. Until menus/locale/languages.toml lists them.
VOICE_LANGUAGES = ("ary", "fr")
# Each language's catalogue names itself here: "Pour le français, tapez 2."
FOR_THIS_LANGUAGE = N_("For this language, press {key}.")
NO_ANSWER = N_("We did not hear your answer. Goodbye.")
REPEAT = "*"
FINISH = "#"
# Screens that take an entry of several digits (a year, a PIN, a reference, a number of
# months), ended by `#`. Every other screen takes one key, unless a choice has two digits.
ENTRY_SCREENS = frozenset(
    {"identify_cin", "identify_year", "rna_cin", "rna_year", "pay_months"}
    | {"agent_home", "agent_confirm_reference", "agent_check_reference"}
    | {"agent_pin_old", "agent_pin_new", "agent_pin_again"}
)
CHOICE = re.compile(r"^\s*(\d+)\s", re.MULTILINE)


def key_of(language: str) -> str:
    return str(VOICE_LANGUAGES.index(language) + 1)


def chosen(digits: str, offered: tuple[str, ...]) -> str | None:
    """The offered language whose key is `digits`, or None."""
    return next((language for language in offered if key_of(language) == digits), None)


def one_key(reply: Reply) -> bool:
    """Whether the screen is answered by one key (AT posts it at once: numDigits=1)."""
    if reply.screen in ENTRY_SCREENS:
        return False
    return all(len(number) == 1 for number in CHOICE.findall(reply.text))
