"""Where a clip's audio comes from: a voice talent's recording, else text-to-speech,
cached by content hash and served under PUBLIC_BASE_URL.

CONTRACT (skeleton; the audio work replaces the bodies)."""

from __future__ import annotations

from gateway.config import Settings
from gateway.voice.speech import Clip


class PromptAudio:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def url(self, clip: Clip) -> str:
        """The URL Africa's Talking plays for `clip` (its audio made now if needed)."""
        return f"{self.settings.public_base_url}/voice/audio/{clip.id}.wav"

    def offered(self, language: str) -> bool:
        """Whether a call may offer `language`: every fixed prompt recorded, or
        synthesised ones allowed (VOICE_OFFER_SYNTHESISED) and a TTS voice for it."""
        return self.settings.voice_offer_synthesised
