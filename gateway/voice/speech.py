"""What the voice line says: a menu reply as a list of clips. Pure: no I/O.

CONTRACT (skeleton; the speech work replaces the bodies): a `Clip` is one piece of
audio to play, identified by its language and exact text; recordings and synthesised
audio are both keyed by `Clip.id`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from menus.engine import Reply


@dataclass(frozen=True)
class Clip:
    language: str
    text: str

    @property
    def id(self) -> str:
        """Stable id of this prompt: the file name of its recording and of its audio."""
        return hashlib.sha256(f"{self.language}\0{self.text}".encode()).hexdigest()[:16]


def speak(reply: Reply, language: str) -> list[Clip]:
    """The clips that say `reply` in `language` (skeleton: the whole text as one clip)."""
    return [Clip(language, reply.text)]


def fixed_prompts(language: str) -> list[Clip]:
    """Every clip of `language` that does not depend on data (what a voice talent records)."""
    return []
