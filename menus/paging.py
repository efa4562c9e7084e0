"""Fitting screens into a USSD budget: GSM-7 detection and automatic paging."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# GSM 03.38 basic set, and the extension set whose characters cost two septets.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


@dataclass(frozen=True)
class Budget:
    """Characters a screen may hold: all-GSM-7, or with any other character."""

    gsm7: int = 160
    other: int = 80

    def length(self, text: str) -> int:
        """Cost of `text`: septets when it is all GSM-7, characters otherwise."""
        if is_gsm7(text):
            return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return len(text)

    def limit(self, text: str) -> int:
        return self.gsm7 if is_gsm7(text) else self.other

    def fits(self, text: str) -> bool:
        return self.length(text) <= self.limit(text)


def _split_long_line(line: str, width: int) -> list[str]:
    """Break one line at spaces (or hard, for a single long word) into pieces of `width`."""
    pieces: list[str] = []
    current = ""
    for word in line.split(" "):
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= width:
            current = candidate
            continue
        if current:
            pieces.append(current)
        rest = word
        while len(rest) > width:
            pieces.append(rest[:width])
            rest = rest[width:]
        current = rest
    if current:
        pieces.append(current)
    return pieces


def paginate(
    lines: list[str],
    budget: Budget,
    more: str,
    back: str | None,
    actions: tuple[str, ...] | list[str] = (),
    *,
    keep: int = 0,
) -> list[str]:
    """Pack `lines` into pages that each fit `budget`, footer included; `actions` (the
    screen's choices) all stand on the first page, after as many of `lines` as fit there
    (the first `keep` ones at least: what answers the caller's last move), and the rest of
    `lines` follow on the next pages: a caller answers without paging.

    Every page but the last ends with the `more` line ("98 ..."); every page ends with
    the `back` line when one is given. A line is never cut unless it cannot fit alone.
    """
    actions = list(actions)

    def page_text(body: list[str], has_more: bool) -> str:
        footer = ([more] if has_more else []) + ([back] if back else [])
        return "\n".join(body + footer)

    if budget.fits(page_text(lines + actions, False)):
        return [page_text(lines + actions, False)]
    if not actions or not budget.fits(page_text([*lines[:keep], *actions], True)):
        # No choices, or choices that cannot share a page with the answer to the last
        # move (a notice with letters beyond GSM-7 above a French menu): all in order.
        return _pack(lines + actions, budget, page_text)
    # The first page: the choices and as many leading lines as fit before them.
    lead = keep
    while lead < len(lines) and budget.fits(page_text([*lines[: lead + 1], *actions], True)):
        lead += 1
    first = page_text([*lines[:lead], *actions], True)
    return [first, *_pack(lines[lead:], budget, page_text)]


def _pack(lines: list[str], budget: Budget, page_text: Callable[[list[str], bool], str]) -> list[str]:
    if budget.fits(page_text(lines, False)):
        return [page_text(lines, False)]
    # A line too long for any page is pre-split at the width a full footer leaves.
    reserve = budget.length(page_text([], True)) + 1
    width = max(budget.other - reserve, 10)
    queue: list[str] = []
    for line in lines:
        if budget.fits(page_text([line], True)):
            queue.append(line)
        else:
            queue.extend(_split_long_line(line, width))

    pages: list[list[str]] = []
    current: list[str] = []
    for index, line in enumerate(queue):
        is_last = index == len(queue) - 1
        candidate = [*current, line]
        if budget.fits(page_text(candidate, not is_last)):
            current = candidate
            continue
        if not current:  # cannot happen after pre-splitting, but never loop forever
            current = candidate
            continue
        pages.append(current)
        current = [line]
    pages.append(current)
    if len(pages) == 1:
        return [page_text(pages[0], False)]
    return [page_text(body, index < len(pages) - 1) for index, body in enumerate(pages)]
