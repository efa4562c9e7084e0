"""A fake Africa's Talking Voice client over HTTP, for the voice line's tests: it posts
each callback as AT does, follows the XML (the GetDigits callbackUrl with the keys
pressed, the Redirect when no key comes) and checks every reply against the actions AT
knows (tests/voice_xml.py). What the caller hears is the clips of the Play URLs, from a
mapping of URL to clip the test gives (kept as PromptAudio.url makes them, or read back
from the simulator's transcripts: tests/functional/test_voice_check.py)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping

from gateway.voice.speech import Clip
from gateway.voice.words import number_units
from tests.conftest import CALLBACK_KEY
from tests.voice_xml import Parsed, check

YOUSSEF = "+212600000002"
OUR_NUMBER = "+212522000000"


class Call:
    """One call to the voice line, as AT places it."""

    def __init__(self, server: str, clips: Mapping[str, Clip], phone: str = YOUSSEF, key: str = CALLBACK_KEY) -> None:
        self.url = f"{server}/voice/africastalking?{urllib.parse.urlencode({'key': key})}"
        self.clips = clips
        self.session_id = "ATVId_" + uuid.uuid4().hex
        self.phone = phone
        self.last: tuple[str, dict[str, str]] | None = None
        self.body = ""
        self.reply = Parsed()
        self.status = 0

    def _post(self, url: str, **fields: str) -> Parsed:
        form = {
            "isActive": "1",
            "sessionId": self.session_id,
            "direction": "Inbound",
            "callerNumber": self.phone,
            "destinationNumber": OUR_NUMBER,
            **fields,
        }
        self.last = (url, form)
        request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                self.status, content_type, self.body = (
                    response.status,
                    response.headers["Content-Type"],
                    response.read(),
                )
        except urllib.error.HTTPError as error:
            self.status, content_type, self.body = error.code, error.headers["Content-Type"], error.read()
        assert content_type.startswith("application/xml"), content_type
        self.body = self.body.decode("utf-8")
        self.reply = check(self.body)
        return self.reply

    def start(self) -> Parsed:
        return self._post(self.url)

    def press(self, keys: str) -> Parsed:
        assert self.reply.digits is not None, f"no keys asked: {self.body}"
        return self._post(self.reply.digits["callbackUrl"], dtmfDigits=keys)

    def silence(self) -> Parsed:
        assert self.reply.redirect is not None, f"nothing after the prompt: {self.body}"
        return self._post(self.reply.redirect)

    def again(self) -> str:
        """AT posts the last callback once more; the reply's body."""
        assert self.last is not None
        url, form = self.last
        self._post(url, **form)
        return self.body

    def hang_up(self, seconds: int = 42) -> None:
        self._post(self.url, isActive="0", durationInSeconds=str(seconds), currencyCode="MAD", amount="1.75")

    def heard(self) -> list[Clip]:
        return [self.clips[url] for url in self.reply.plays]

    def said(self) -> str:
        return "\n".join(clip.text for clip in self.heard())

    def pick_french(self) -> str:
        self.start()
        self.press("2")
        return self.said()


def heard_reference(said: str, language: str) -> str | None:
    """The 10-digit reference a caller writes down from the transcript: digit words in
    groups of 3, 3 and 4 ("huit zéro zéro, cinq deux deux, neuf cinq cinq trois")."""
    digit = {number_units(n, language)[0]: str(n) for n in range(10)}
    for line in said.splitlines():
        words = line.replace(",", " ").split()
        if len(words) == 10 and all(word in digit for word in words):
            return "".join(digit[word] for word in words)
    return None
