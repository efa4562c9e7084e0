"""A local stand-in for Azure Speech's text-to-speech REST API, for tests, benchmarks and
trying the Azure backend by hand (`python -m gateway.voice.fake_azure` prints the
AZURE_SPEECH_ENDPOINT and key to set).

`POST /cognitiveservices/v1` is checked as Azure checks it: the `Ocp-Apim-Subscription-Key`
(else 401), `Content-Type: application/ssml+xml` (else 415), a known
`X-Microsoft-OutputFormat` and a `User-Agent` (else 400), SSML whose <speak> has a version
and an xml:lang and holds one <voice> with a known name (else 400). It answers a WAV in
the asked format: a tone as long as the text would take to say. Scripted modes for the
next requests: `success`, `throttled` (429), `server_error` (500), `slow` (waits
`slow_seconds`), `not_audio` (200 with an HTML page, as a captive proxy would)."""

from __future__ import annotations

import math
import struct
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from gateway.local_fake import LocalFake
from gateway.voice import wav

API_KEY = "fake-azure-speech-key-0123456789"
VOICES = frozenset({"ar-MA-MounaNeural", "ar-MA-JamalNeural", "fr-FR-DeniseNeural", "fr-FR-HenriNeural"})
FORMATS = {"riff-8khz-16bit-mono-pcm": 8000, "riff-16khz-16bit-mono-pcm": 16000, "riff-24khz-16bit-mono-pcm": 24000}
SSML_NS = "{http://www.w3.org/XML/1998/namespace}lang"
SECONDS_PER_CHARACTER = 0.06


@dataclass(frozen=True)
class Synthesis:
    voice: str
    locale: str
    text: str
    output_format: str
    user_agent: str


def tone(rate: int, seconds: float) -> bytes:
    """A 440 Hz tone at -12 dBFS: audible, not silent, not clipped."""
    count = max(int(rate * seconds), 1)
    samples = (int(8000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(count))
    frames = struct.pack(f"<{count}h", *samples)
    return wav.write(wav.Pcm(channels=1, sample_bytes=2, rate=rate, frames=frames))


class FakeAzureSpeech(LocalFake):
    name = "fake-azure"

    def __init__(self, *, api_key: str = API_KEY, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.slow_seconds = 5.0
        self.received: list[Synthesis] = []
        self.refused: list[tuple[int, str]] = []  # (status, why) of each request refused

    @property
    def endpoint(self) -> str:
        return self.base_url

    # Serving --------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        if request.path != "/cognitiveservices/v1":
            self._refuse(request, 404, "no such path")
            return
        if request.headers.get("Ocp-Apim-Subscription-Key") != self.api_key:
            self._refuse(request, 401, "Access denied due to invalid subscription key")
            return
        if (request.headers.get("Content-Type") or "").split(";")[0].strip() != "application/ssml+xml":
            self._refuse(request, 415, "Content-Type must be application/ssml+xml")
            return
        output_format = request.headers.get("X-Microsoft-OutputFormat", "")
        user_agent = request.headers.get("User-Agent", "")
        if output_format not in FORMATS or not user_agent:
            self._refuse(request, 400, "unsupported X-Microsoft-OutputFormat or no User-Agent")
            return
        try:
            synthesis = self._parse(body, output_format, user_agent)
        except ValueError as error:
            self._refuse(request, 400, str(error))
            return
        mode = self.next_mode()
        with self._lock:
            self.received.append(synthesis)
        if mode == "slow":
            time.sleep(self.slow_seconds)
        if mode == "throttled":
            self._send(request, 429, "text/plain", b"Too many requests")
        elif mode == "server_error":
            self._send(request, 500, "text/plain", b"Internal Server Error")
        elif mode == "not_audio":
            self._send(request, 200, "text/html", b"<html><body>Sign in to continue</body></html>")
        else:
            seconds = max(0.3, SECONDS_PER_CHARACTER * len(synthesis.text))
            self._send(request, 200, "audio/x-wav", tone(FORMATS[output_format], seconds))

    @staticmethod
    def _parse(body: bytes, output_format: str, user_agent: str) -> Synthesis:
        try:
            speak = ET.fromstring(body)  # noqa: S314 - our own tests' SSML
        except ET.ParseError as error:
            raise ValueError(f"SSML is not XML: {error}") from None
        if speak.tag != "speak" or not speak.get("version") or not speak.get(SSML_NS):
            raise ValueError("SSML: <speak> needs version and xml:lang")
        voices = speak.findall("voice")
        if len(voices) != 1 or voices[0].get("name") not in VOICES:
            raise ValueError("SSML: one <voice> with a known name expected")
        voice = voices[0]
        return Synthesis(voice.get("name", ""), speak.get(SSML_NS, ""), voice.text or "", output_format, user_agent)

    def _refuse(self, request: BaseHTTPRequestHandler, status: int, why: str) -> None:
        with self._lock:
            self.refused.append((status, why))
        self._send(request, status, "text/plain", why.encode())


if __name__ == "__main__":
    server = FakeAzureSpeech().start()
    print(f"fake Azure Speech: AZURE_SPEECH_ENDPOINT={server.endpoint} AZURE_SPEECH_KEY={API_KEY}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
