"""The voice line's rules around the menus: its languages and their keys, the keys of
a call. No I/O.

A call: the language offer (each offered language announced in itself, with its key),
then the menus' screens (gateway/voice/adapter.py renders them), through the USSD hop
path (gateway/web/ussd.run_hop). Keys: a digit answers, `0` back (the menus' own),
`*` says the prompt again (nothing run), `#` ends an entry of several digits; no key
within VOICE_ANSWER_SECONDS says the prompt again once, then ends the call politely.
"""

from __future__ import annotations

from menus.engine import Choice
from menus.i18n import N_
from menus.languages import VOICE, language, on_channel

# The voice languages in the order of their keys (1, 2, ...: menus/locale/languages.toml):
# a language keeps its key whether or not it is offered.
VOICE_LANGUAGES = on_channel(VOICE)
NO_ANSWER = N_("We did not hear your answer. Goodbye.")
REPEAT = "*"
FINISH = "#"


def key_of(code: str) -> str:
    return str(VOICE_LANGUAGES.index(code) + 1)


def offer(offered: tuple[str, ...]) -> tuple[Choice, ...]:
    """The language offer's choices: each language named in itself, with its key."""
    return tuple(Choice(key_of(code), language(code).name, language=code) for code in offered)


def chosen(digits: str, offered: tuple[str, ...]) -> str | None:
    """The offered language whose key is `digits`, or None."""
    return next((code for code in offered if key_of(code) == digits), None)
