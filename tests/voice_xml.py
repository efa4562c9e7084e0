"""A strict checker of the Africa's Talking Voice XML the voice line answers: only the
actions we use, with only the attributes AT documents for them (docs.africastalking.com
voice: GetDigits, Play, Say, Redirect, Reject), in an order AT runs."""

from __future__ import annotations

import re
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
ACTIONS = {"GetDigits", "Play", "Say", "Redirect", "Reject"}
PROMPTS = {"Play", "Say"}
ATTRIBUTES = {
    "GetDigits": {"timeout", "finishOnKey", "numDigits", "callbackUrl"},
    "Play": {"url"},
    "Say": {"voice", "playBeep"},
    "Redirect": set(),
    "Reject": set(),
}
KEY = re.compile(r"^[0-9*#]$")


@dataclass
class Parsed:
    """What a reply asks AT to do."""

    plays: list[str] = field(default_factory=list)  # every Play URL, in order (prompts included)
    says: list[str] = field(default_factory=list)
    digits: dict[str, str] | None = None  # the GetDigits attributes, if any
    redirect: str | None = None
    rejected: bool = False


class InvalidVoiceXml(AssertionError):
    pass


def _url(value: str | None, where: str) -> str:
    parsed = urllib.parse.urlsplit(value or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidVoiceXml(f"{where}: not an absolute http(s) URL: {value!r}")
    return value or ""


def _no_text(element: ET.Element) -> None:
    if (element.text or "").strip() or len(element):
        raise InvalidVoiceXml(f"<{element.tag}> holds text or elements")


def check(body: str) -> Parsed:
    """Parse `body` as AT reads it, or raise InvalidVoiceXml saying what is wrong."""
    if not body.startswith(DECLARATION):
        raise InvalidVoiceXml("no XML declaration with UTF-8")
    root = ET.fromstring(body[len(DECLARATION) :])
    if root.tag != "Response" or root.attrib or (root.text or "").strip():
        raise InvalidVoiceXml("the root is not a bare <Response>")
    parsed = Parsed()
    actions = list(root)
    for index, element in enumerate(actions):
        if element.tag not in ACTIONS:
            raise InvalidVoiceXml(f"unknown action <{element.tag}>")
        unknown = set(element.attrib) - ATTRIBUTES[element.tag]
        if unknown:
            raise InvalidVoiceXml(f"<{element.tag}> has attributes AT does not know: {sorted(unknown)}")
        if (element.tail or "").strip():
            raise InvalidVoiceXml("text between actions")
        if element.tag == "Reject":
            _no_text(element)
            if len(actions) != 1:
                raise InvalidVoiceXml("<Reject> must be alone in its response")
            parsed.rejected = True
        elif element.tag == "Redirect":
            if index != len(actions) - 1:
                raise InvalidVoiceXml("actions after <Redirect> are never run")
            parsed.redirect = _url((element.text or "").strip(), "Redirect")
        elif element.tag == "GetDigits":
            if parsed.digits is not None:
                raise InvalidVoiceXml("two <GetDigits>")
            attributes = dict(element.attrib)
            _url(attributes.get("callbackUrl"), "GetDigits callbackUrl")
            if not attributes.get("timeout", "").isdigit() or int(attributes["timeout"]) < 1:
                raise InvalidVoiceXml("GetDigits timeout is not a positive number of seconds")
            if "numDigits" in attributes and not (
                attributes["numDigits"].isdigit() and int(attributes["numDigits"]) >= 1
            ):
                raise InvalidVoiceXml("GetDigits numDigits is not a positive number")
            if "finishOnKey" in attributes and not KEY.match(attributes["finishOnKey"]):
                raise InvalidVoiceXml("GetDigits finishOnKey is not one key")
            if (element.text or "").strip() or not len(element):
                raise InvalidVoiceXml("<GetDigits> without a prompt")
            for prompt in element:
                if prompt.tag not in PROMPTS:
                    raise InvalidVoiceXml(f"<{prompt.tag}> inside <GetDigits>")
                _prompt(prompt, parsed)
            parsed.digits = attributes
        else:
            _prompt(element, parsed)
    return parsed


def _prompt(element: ET.Element, parsed: Parsed) -> None:
    unknown = set(element.attrib) - ATTRIBUTES[element.tag]
    if unknown:
        raise InvalidVoiceXml(f"<{element.tag}> has attributes AT does not know: {sorted(unknown)}")
    if element.tag == "Play":
        _no_text(element)
        parsed.plays.append(_url(element.get("url"), "Play url"))
    else:
        text = (element.text or "").strip()
        if not text or len(element):
            raise InvalidVoiceXml("<Say> without text")
        parsed.says.append(text)
