"""The conversation engine: screens, transitions, navigation keys, paging, errors.

Pure: it gets the caller's input and a JSON-ready state dict, and returns the reply
and the next state. No HTTP, SQL or Redis here; outside needs go through `Ports`.

Navigation on every screen: `0` back (or previous page), `00` home, `98` next page
(on the last page, that page again).
Anything a screen does not expect re-shows it with a short error line; the third
wrong answer in a row ends the session politely.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from menus.i18n import N_, SpokenTranslator, Translator
from menus.languages import SCREEN, VOICE, for_channel, on_channel, written
from menus.paging import Budget, paginate
from menus.ports import Ports

BACK, HOME, MORE = "0", "00", "98"
# Taking up a resume offer costs one answer ("1 Continue").
RESUME_COST = 1
MAX_WRONG_INPUTS = 3
STATE_VERSION = 1


@dataclass(frozen=True)
class Choice:
    """One answer a screen offers: the key to press and what it does. On a screen it
    reads `1 Pay all due`; `language`, when given, is the language the label is in and
    said in (the language menu names each language in itself)."""

    key: str
    label: str
    language: str | None = None

    def __str__(self) -> str:
        return f"{self.key} {self.label}"


# An action given as text ("1 Pay all due", a catalogue message): its key, then its label.
NUMBERED = re.compile(r"(\d+) (.+)", re.DOTALL)


def as_choice(item: str | Choice) -> Choice | None:
    if isinstance(item, Choice):
        return item
    match = NUMBERED.fullmatch(item)
    return Choice(match.group(1), match.group(2)) if match else None


@dataclass(frozen=True)
class Reply:
    """One answer of the engine: `text` is the page a screen shows (USSD); the rest is
    the whole screen unpaged, for a renderer that is not a screen (the voice line):
    `head` (the error or notice answering the last move), `lines`, the choices
    (`actions`, in the order shown), whether `0` goes back, and whether it waits for
    an entry of several digits (`typed`)."""

    text: str
    final: bool
    screen: str
    # Ended by the third wrong answer in a row, not by reaching a last screen.
    gave_up: bool = False
    head: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    actions: tuple[Choice, ...] = ()
    back: bool = False
    typed: bool = False


@dataclass(frozen=True)
class View:
    """What a screen shows. A final view ends the session (after its last page).

    `actions` are the screen's choices ("1 Pay all due"): the paging keeps them all on
    the first page, after as many `lines` as fit, so that no one pages to act. A list to
    choose from (regions, claims) is `lines` of `Choice`s: it pages like any information.
    An action given as text is numbered ("1 Pay all due"): its number is its key.
    `typed`: the screen waits for an entry of several digits (a year, a PIN, a reference,
    a number of months), not a choice: the voice line lets it end with `#`."""

    lines: Sequence[str | Choice]
    final: bool = False
    actions: Sequence[str | Choice] = field(default_factory=list)
    typed: bool = False


@dataclass(frozen=True)
class Go:
    screen: str
    params: dict[str, Any] = field(default_factory=dict)
    replace: bool = False
    notice: str | None = None


@dataclass(frozen=True)
class Home:
    notice: str | None = None


@dataclass(frozen=True)
class Invalid:
    error: str = N_("Invalid choice.")


@dataclass(frozen=True)
class End:
    lines: list[str]


@dataclass(frozen=True)
class Resume:
    """Back to where an interrupted session stopped (the stack kept in the offer's params)."""


Step = Go | Home | Invalid | End | Resume


class Session:
    """Typed access to the JSON state kept between hops."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def language(self) -> str:
        return str(self.data["lang"])

    @language.setter
    def language(self, value: str) -> None:
        self.data["lang"] = value

    @property
    def written(self) -> str:
        """The screen language of the language in use: the one the ports get (names of
        places and trades, the preference stored, SMS)."""
        return written(self.language)

    @property
    def artisan_id(self) -> int | None:
        value = self.data.get("aid")
        return int(value) if value is not None else None

    @artisan_id.setter
    def artisan_id(self, value: int | None) -> None:
        self.data["aid"] = value

    @property
    def stack(self) -> list[dict[str, Any]]:
        stack: list[dict[str, Any]] = self.data["stack"]
        return stack

    @property
    def frame(self) -> dict[str, Any]:
        return self.stack[-1]

    @property
    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.frame.setdefault("p", {})
        return params


@dataclass
class Context:
    """One hop's outside world. `channel` is "screen" (USSD) or "voice"; `languages`
    the languages offered on it (default: every language of the channel; the voice line
    passes only those whose prompts it can play)."""

    phone: str
    ports: Ports
    budget: Budget
    today: dt.date
    default_language: str
    # A language chosen before the menus (the voice line's offer): it wins over the caller's.
    language: str | None = None
    channel: str = SCREEN
    languages: tuple[str, ...] = ()
    _translators: dict[str, Translator] = field(default_factory=dict)

    @property
    def offered(self) -> tuple[str, ...]:
        return self.languages or on_channel(self.channel)

    def translator(self, language: str) -> Translator:
        if language not in self._translators:
            spoken = self.channel == VOICE
            self._translators[language] = SpokenTranslator(language) if spoken else Translator(language)
        return self._translators[language]


class Screen(Protocol):
    def render(self, ctx: Context, session: Session, t: Translator) -> View: ...

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step: ...


class Engine:
    """Runs a set of screens. An artisan starts at `home`; a cash-point agent (the phone
    is registered as one) at `agent_home`, and `00` brings each back to their own.

    A session cut off mid-flow leaves a resume point (`resume_point`); the next dial
    from that phone, given it back, starts on `resume_screen`, which offers to continue.
    Only a session cut off on a screen in `resume_at` (one holding a choice made inside a
    task) and deeper than the offer costs is kept. A session that went through a screen
    in `no_resume` (secrets typed, money committed) is never resumed, nor is an agent's
    (everything in it sits behind the PIN)."""

    def __init__(
        self,
        screens: Mapping[str, Screen],
        home: str,
        agent_home: str | None = None,
        *,
        resume_screen: str | None = None,
        no_resume: frozenset[str] = frozenset(),
        resume_at: frozenset[str] | None = None,
    ) -> None:
        self.screens = screens
        self.home = home
        self.agent_home = agent_home
        self.resume_screen = resume_screen
        self.no_resume = no_resume | ({resume_screen} if resume_screen else set())
        self.resume_at = resume_at

    def resume_point(self, data: Mapping[str, Any]) -> dict[str, Any] | None:
        """What is worth resuming of this session state (the artisan and the stack of
        screens), or None: an agent, a finished session, a screen in `no_resume` anywhere
        on the way, a cut-off screen not in `resume_at` (a menu, an information screen),
        or one that starting again reaches in no more answers than the offer costs."""
        if self.resume_screen is None or data.get("done") or data.get("agent") is not None:
            return None
        stack = data.get("stack", [])
        if len(stack) < 2 or not all(isinstance(frame, dict) for frame in stack) or stack[0].get("s") != self.home:
            return None
        if any(frame.get("s") not in self.screens or frame.get("s") in self.no_resume for frame in stack):
            return None
        if self.resume_at is not None and stack[-1].get("s") not in self.resume_at:
            return None
        # Each screen past home took at least one answer to reach again from the dial.
        if len(stack) - 1 <= RESUME_COST:
            return None
        return {"aid": data.get("aid"), "stack": stack}

    def start(self, ctx: Context, resume: Mapping[str, Any] | None = None) -> tuple[Reply, dict[str, Any]]:
        """The first screen of a session; with `resume` (a `resume_point` of this phone's
        last session), an offer to continue it, if the caller is still the same artisan."""
        caller = ctx.ports.registry.caller(ctx.phone)
        home = self.agent_home if caller.agent_id is not None and self.agent_home else self.home
        data: dict[str, Any] = {
            "v": STATE_VERSION,
            "lang": ctx.language or for_channel(caller.language, ctx.channel, ctx.default_language),
            "aid": caller.artisan_id,
            "home": home,
            "stack": [{"s": home}],
            "page": 0,
            "err": 0,
        }
        if home == self.agent_home:
            data["agent"] = caller.agent_id
        elif resume is not None and self.resume_screen and resume.get("aid") == caller.artisan_id:
            point = self.resume_point({"stack": resume.get("stack", []), "aid": caller.artisan_id})
            if point is not None:
                data["stack"].append({"s": self.resume_screen, "p": {"stack": point["stack"]}})
        session = Session(data)
        return self._render(ctx, session), data

    def step(self, ctx: Context, data: dict[str, Any], raw: str) -> tuple[Reply, dict[str, Any]]:
        session = Session(data)
        if data.get("done"):
            t = ctx.translator(session.language)
            return self._finish(session, [t("This session has ended. Please dial again.")]), data
        value = raw.strip()
        if value == HOME:
            data.update(stack=[{"s": data.get("home", self.home)}], page=0, err=0)
            return self._render(ctx, session), data
        if value == MORE:
            # On the last page (or the only one) `98` keeps that page: no screen takes
            # 98 as an answer, and an error line would only push the choices away.
            if data["page"] + 1 < data.get("pages", 1):
                data["page"] += 1
            return self._render(ctx, session), data
        if value == BACK:
            if data["page"] > 0:
                data["page"] -= 1
            elif len(session.stack) > 1:
                session.stack.pop()
            data["err"] = 0
            return self._render(ctx, session), data
        screen = self.screens[session.frame["s"]]
        t = ctx.translator(session.language)
        result = screen.handle(ctx, session, value, t)
        return self._apply(ctx, session, result), data

    def _apply(self, ctx: Context, session: Session, result: Step) -> Reply:
        data = session.data
        t = ctx.translator(session.language)
        if isinstance(result, Invalid):
            data["err"] = data.get("err", 0) + 1
            if data["err"] >= MAX_WRONG_INPUTS:
                ended = self._finish(session, [t("Too many wrong answers. Please dial again later.")])
                return replace(ended, gave_up=True)
            data["page"] = 0
            return self._render(ctx, session, error=t(result.error))
        data["err"] = 0
        data["page"] = 0
        if isinstance(result, End):
            return self._finish(session, result.lines)
        if isinstance(result, Resume):
            data["stack"] = session.params["stack"]
            return self._render(ctx, session)
        if isinstance(result, Home):
            data["stack"] = [{"s": data.get("home", self.home)}]
            notice = result.notice
        else:
            if result.replace:
                session.stack.pop()
            session.stack.append({"s": result.screen, "p": result.params})
            notice = result.notice
        return self._render(ctx, session, notice=notice)

    def pages(
        self, ctx: Context, session: Session, error: str | None = None, notice: str | None = None
    ) -> tuple[list[str], bool]:
        """Every page of the current screen, and whether the screen is final."""
        view, head, back = self._layout(ctx, session, error, notice)
        return self._paginate(ctx, session, view, head, back), view.final

    def _layout(
        self, ctx: Context, session: Session, error: str | None, notice: str | None
    ) -> tuple[View, list[str], str | None]:
        t = ctx.translator(session.language)
        view = self.screens[session.frame["s"]].render(ctx, session, t)
        head = [line for line in (error, notice) if line]
        back = None if view.final or len(session.stack) == 1 else t("0 Back")
        return view, head, back

    def _paginate(self, ctx: Context, session: Session, view: View, head: list[str], back: str | None) -> list[str]:
        t = ctx.translator(session.language)
        lines = [str(line) for line in view.lines]
        actions = [str(action) for action in view.actions]
        return paginate(head + lines, ctx.budget, more=t("98 More"), back=back, actions=actions, keep=len(head))

    def _render(self, ctx: Context, session: Session, error: str | None = None, notice: str | None = None) -> Reply:
        data = session.data
        name = session.frame["s"]
        view, head, back = self._layout(ctx, session, error, notice)
        pages = self._paginate(ctx, session, view, head, back)
        data["pages"] = len(pages)
        page = min(data.get("page", 0), len(pages) - 1)
        data["page"] = page
        # The voice line says a screen whole: its last page is the one it says.
        final = view.final and (page == len(pages) - 1 or ctx.channel == VOICE)
        if final:
            data["done"] = True
        # A choice is a `Choice` among the lines, or any action (numbered text).
        listed = [item for item in view.lines if isinstance(item, Choice)]
        choices = [choice for choice in map(as_choice, [*listed, *view.actions]) if choice is not None]
        plain = tuple(item for item in view.lines if not isinstance(item, Choice))
        return Reply(
            text=pages[page],
            final=final,
            screen=name,
            head=tuple(head),
            lines=plain,
            actions=tuple(choices),
            back=back is not None,
            typed=view.typed,
        )

    def _finish(self, session: Session, lines: list[str]) -> Reply:
        session.data["done"] = True
        return Reply(text="\n".join(lines), final=True, screen=session.frame["s"], lines=tuple(lines))
