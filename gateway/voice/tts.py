"""Text-to-speech behind one port: espeak-ng (offline, development and tests), Azure Speech
over its REST API (production: neural ar-MA and fr-FR voices), or none (recordings only),
chosen by VOICE_TTS_BACKEND.

Every backend returns a whole PCM WAV (`wav.whole`) and raises `TtsError` for anything that
went wrong (backend down, key refused, throttled, timed out, not audio): the caller plays a
recording, says "service unavailable", or retries later (`flask voice warm`)."""

from __future__ import annotations

import subprocess
from typing import Final, Protocol
from xml.sax.saxutils import escape, quoteattr

import requests

from gateway.config import Settings
from gateway.voice import wav
from menus.languages import languages

# Each language's voice per backend is data (menus/locale/languages.toml: `espeak`,
# `azure`); a language without one is spoken from recordings only (Tachelhit, Central
# Atlas Tamazight, Tarifit: no engine has them). The ar-MA voices read Modern Standard
# Arabic with a Moroccan accent, not Darija: the recordings remain the goal.

# Telephone audio: what Africa's Talking plays without resampling, 16 KB a second.
AZURE_OUTPUT_FORMAT: Final = "riff-8khz-16bit-mono-pcm"
USER_AGENT: Final = "hirfa-voice"


class TtsError(RuntimeError):
    """Synthesis failed; the message says why (never the key)."""


class SpeechSynthesiser(Protocol):
    """Turns `text` into speech in `voice` (a name of this backend's, from languages.toml)."""

    name: str

    def synthesise(self, text: str, voice: str) -> bytes:
        """A whole 16-bit PCM WAV; raises TtsError."""
        ...


def tts_voice(backend: str, language: str) -> str | None:
    """The voice of `backend` (espeak, azure) for `language`; None: none, or backend none."""
    if backend not in ("espeak", "azure") or language not in languages():
        return None
    return getattr(languages()[language], backend) or None


class EspeakSynthesiser:
    name = "espeak"

    def __init__(self, *, timeout_seconds: float = 5.0, program: str = "espeak-ng") -> None:
        self.timeout_seconds = timeout_seconds
        self.program = program

    def synthesise(self, text: str, voice: str) -> bytes:
        # The text goes on stdin: on the command line a prompt starting with "-" would be an option.
        command = [self.program, "--stdout", "--stdin", "-b", "1", "-s", "150", "-v", voice]
        try:
            done = subprocess.run(  # noqa: S603 - a fixed program, no shell, the text on stdin
                command, input=text.encode(), capture_output=True, timeout=self.timeout_seconds, check=False
            )
        except subprocess.TimeoutExpired:
            raise TtsError(f"espeak-ng took longer than {self.timeout_seconds} s") from None
        except OSError as error:
            raise TtsError(f"espeak-ng could not run ({error.strerror}): `make espeak` installs it") from None
        if done.returncode != 0 or not done.stdout:
            raise TtsError(f"espeak-ng failed ({done.returncode}): {done.stderr.decode(errors='replace')[:200]}")
        try:
            return wav.whole(done.stdout)
        except wav.NotWav as error:
            raise TtsError(f"espeak-ng gave no audio: {error}") from None


def ssml(text: str, voice: str) -> str:
    """One voice saying `text`; the locale is the voice name's first two parts (ar-MA)."""
    locale = "-".join(voice.split("-")[:2])
    return (
        f"<speak version='1.0' xml:lang={quoteattr(locale)}>"
        f"<voice xml:lang={quoteattr(locale)} name={quoteattr(voice)}>{escape(text)}</voice></speak>"
    )


class AzureSynthesiser:
    """POST {endpoint}/cognitiveservices/v1 with SSML and the resource key (Azure Speech's
    text-to-speech REST API); the endpoint is https://<region>.tts.speech.microsoft.com
    unless AZURE_SPEECH_ENDPOINT names another (tests: gateway.voice.fake_azure)."""

    name = "azure"

    def __init__(self, *, key: str, region: str = "", endpoint: str = "", timeout_seconds: float = 5.0) -> None:
        self.url = (endpoint or f"https://{region}.tts.speech.microsoft.com") + "/cognitiveservices/v1"
        self.timeout = (min(3.05, timeout_seconds), timeout_seconds)
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Ocp-Apim-Subscription-Key": key,
                "Content-Type": "application/ssml+xml",
                "X-Microsoft-OutputFormat": AZURE_OUTPUT_FORMAT,
                "User-Agent": USER_AGENT,
            }
        )

    def synthesise(self, text: str, voice: str) -> bytes:
        try:
            answer = self._session.post(self.url, data=ssml(text, voice).encode(), timeout=self.timeout)
        except requests.exceptions.Timeout:
            raise TtsError(f"Azure Speech did not answer within {self.timeout[1]} s") from None
        except requests.exceptions.RequestException as error:
            raise TtsError(f"Azure Speech unreachable ({type(error).__name__})") from None
        if answer.status_code in (401, 403):
            raise TtsError(f"Azure Speech refused the key (HTTP {answer.status_code}): check AZURE_SPEECH_KEY")
        if answer.status_code == 429:
            raise TtsError("Azure Speech throttled us (HTTP 429)")
        if answer.status_code != 200:
            raise TtsError(f"Azure Speech answered HTTP {answer.status_code}: {answer.text[:200]}")
        try:
            return wav.whole(answer.content)
        except wav.NotWav as error:
            raise TtsError(f"Azure Speech sent no WAV ({answer.headers.get('Content-Type')}): {error}") from None


class NoSynthesiser:
    """VOICE_TTS_BACKEND=none: recordings only (no language has a voice here)."""

    name = "none"

    def synthesise(self, text: str, voice: str) -> bytes:
        raise TtsError("VOICE_TTS_BACKEND=none: no text-to-speech")


def synthesiser(settings: Settings) -> SpeechSynthesiser:
    if settings.voice_tts_backend == "azure":
        return AzureSynthesiser(
            key=settings.azure_speech_key,
            region=settings.azure_speech_region,
            endpoint=settings.azure_speech_endpoint,
            timeout_seconds=settings.voice_tts_timeout_seconds,
        )
    if settings.voice_tts_backend == "espeak":
        return EspeakSynthesiser(timeout_seconds=settings.voice_tts_timeout_seconds)
    return NoSynthesiser()
