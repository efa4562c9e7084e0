"""Where a clip's audio comes from: a voice talent's recording, else text-to-speech,
cached by content hash and served under PUBLIC_BASE_URL (/voice/audio/<key>.wav).

The order for a clip: its recording (VOICE_RECORDINGS_DIR/<language>/<clip id>.wav), else
speech synthesised by the TTS backend in the language's voice, else nothing (a recorded-only
language whose prompt is not recorded yet).

The URL names the audio's content, not the clip: the key is a hash of the recording's
(size, mtime) or of (backend, voice, clip id). A new recording, a new voice or a new backend
gives a new URL, so Africa's Talking and any cache in between may keep a file forever
(Cache-Control: immutable). Every file a URL names sits in VOICE_AUDIO_DIR, written whole
(a temporary file renamed into place): two processes making the same clip at once both
write the same bytes and one rename wins; nobody reads half a file. With several app
servers, VOICE_AUDIO_DIR must be shared (or served by a static host they all write to):
the server that answers AT's GET may not be the one that made the URL."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gateway.config import Settings
from gateway.voice import speech, tts
from gateway.voice.speech import Clip

log = logging.getLogger(__name__)
ROOT: Final = Path(__file__).resolve().parents[2]
KEY_RE: Final = re.compile(r"[0-9a-f]{16}")
RECORDED, SYNTHESISED, MISSING = "recorded", "synthesised", "missing"


class AudioMissing(LookupError):
    """No audio for this clip: not recorded and no TTS voice, or the synthesis failed."""


@dataclass(frozen=True)
class Audio:
    key: str  # the file's name in VOICE_AUDIO_DIR (without .wav) and in its URL
    source: str  # recorded | synthesised


@dataclass(frozen=True)
class Coverage:
    language: str
    recorded: int
    synthesised: int  # without a recording, spoken by the TTS voice ...
    cached: int  # ... of which already synthesised (`flask voice warm`)
    missing: int
    offered: bool

    @property
    def total(self) -> int:
        return self.recorded + self.synthesised + self.missing


def key_in(url: str) -> str:
    """The audio key a URL of `PromptAudio.url` names."""
    return url.rsplit("/", 1)[-1].removesuffix(".wav")


def _directory(setting: str) -> Path:
    """A relative directory is the repository's (like instance/), whatever the working directory."""
    path = Path(setting)
    return path if path.is_absolute() else ROOT / path


def _key(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(part) for part in parts).encode()).hexdigest()[:16]


def write_atomically(path: Path, content: bytes) -> None:
    """`content` at `path`, all or nothing: readers see the old file, or none, or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o644)  # mkstemp's 0600 would hide it from a static host's server
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class PromptAudio:
    def __init__(self, settings: Settings, synthesiser: tts.SpeechSynthesiser | None = None) -> None:
        self.settings = settings
        self.synthesiser = synthesiser or tts.synthesiser(settings)
        self.recordings = _directory(settings.voice_recordings_dir)
        self.cache = _directory(settings.voice_audio_dir)

    # Where it comes from -------------------------------------------------------------

    def recording(self, clip: Clip) -> Path:
        return self.recordings / clip.language / f"{clip.id}.wav"

    def voice(self, language: str) -> str | None:
        """The TTS voice that speaks `language` (None: recordings only)."""
        return tts.tts_voice(self.synthesiser.name, language)

    def source(self, clip: Clip) -> str:
        if self.recording(clip).is_file():
            return RECORDED
        return SYNTHESISED if self.voice(clip.language) else MISSING

    def _planned(self, clip: Clip) -> Audio | None:
        """The key the clip's audio has now, without making it."""
        try:
            recorded = self.recording(clip).stat()
        except FileNotFoundError:
            voice = self.voice(clip.language)
            if voice is None:
                return None
            return Audio(_key("tts", self.synthesiser.name, voice, clip.id), SYNTHESISED)
        return Audio(_key("recorded", clip.id, recorded.st_size, recorded.st_mtime_ns), RECORDED)

    # Making and serving it -----------------------------------------------------------

    def audio(self, clip: Clip) -> Audio:
        """The clip's audio, in VOICE_AUDIO_DIR once this returns; raises AudioMissing."""
        planned = self._planned(clip)
        if planned is None:
            raise AudioMissing(f"{clip.language} prompt {clip.id}: not recorded, and no TTS voice")
        target = self.path(planned.key)
        if target.is_file():
            return planned
        if planned.source == RECORDED:
            write_atomically(target, self.recording(clip).read_bytes())
            return planned
        voice = self.voice(clip.language)
        assert voice is not None  # _planned gave a synthesised key
        try:
            content = self.synthesiser.synthesise(clip.text, voice)
        except tts.TtsError as error:
            # The text may hold a caller's amount or reference: the clip's id only.
            log.warning("voice: synthesis failed", extra={"clip": clip.id, "language": clip.language})
            raise AudioMissing(f"{clip.language} prompt {clip.id}: {error}") from error
        write_atomically(target, content)
        return planned

    def url(self, clip: Clip) -> str:
        """The URL Africa's Talking plays for `clip` (its audio made now if needed);
        raises AudioMissing when there is none."""
        return f"{self.settings.public_base_url}/voice/audio/{self.audio(clip).key}.wav"

    def path(self, key: str) -> Path:
        """The file of `key` (a valid key; it may not exist)."""
        if not KEY_RE.fullmatch(key):
            raise ValueError("an audio key is 16 hexadecimal digits")
        return self.cache / f"{key}.wav"

    # Languages -----------------------------------------------------------------------

    def offered(self, language: str) -> bool:
        """Whether a call may offer `language`: every fixed prompt recorded, or
        synthesised ones allowed (VOICE_OFFER_SYNTHESISED) and a TTS voice for it."""
        prompts = speech.fixed_prompts(language)
        if prompts and all(self.recording(clip).is_file() for clip in prompts):
            return True
        return self.settings.voice_offer_synthesised and self.voice(language) is not None

    def coverage(self, language: str) -> Coverage:
        counts = {RECORDED: 0, SYNTHESISED: 0, MISSING: 0}
        cached = 0
        for clip in speech.fixed_prompts(language):
            planned = self._planned(clip)
            source = planned.source if planned else MISSING
            counts[source] += 1
            if planned and source == SYNTHESISED and self.path(planned.key).is_file():
                cached += 1
        return Coverage(
            language, counts[RECORDED], counts[SYNTHESISED], cached, counts[MISSING], self.offered(language)
        )

    def warm(self, language: str) -> tuple[int, list[str]]:
        """Synthesise every fixed prompt of `language` not recorded and not cached yet, so
        that no call waits on TTS for them: (how many were made, the errors)."""
        made, errors = 0, []
        for clip in speech.fixed_prompts(language):
            planned = self._planned(clip)
            if planned is None or planned.source != SYNTHESISED or self.path(planned.key).is_file():
                continue
            try:
                self.audio(clip)
            except AudioMissing as error:
                errors.append(str(error))
            else:
                made += 1
        return made, errors
