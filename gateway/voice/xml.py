"""Africa's Talking Voice XML, the actions the voice line uses (the SDK has no builder).

A reply is one `<Response>` of actions run in order: `GetDigits` (its `Play`/`Say`
prompts, then the keys pressed are posted to `callbackUrl`; with no key at all within
`timeout` AT moves on to the next action), `Play` (audio at a URL), `Say` (AT's own
text-to-speech), `Redirect` (post the call to a URL for the next actions), `Reject`
(refuse an incoming call, alone in its response). Built with ElementTree: texts and
URLs are escaped, attribute order is fixed, so the same reply is the same bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

CONTENT_TYPE = "application/xml; charset=utf-8"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def response(*actions: ET.Element) -> str:
    root = ET.Element("Response")
    root.extend(actions)
    return DECLARATION + ET.tostring(root, encoding="unicode")


def play(url: str) -> ET.Element:
    return ET.Element("Play", url=url)


def say(text: str) -> ET.Element:
    element = ET.Element("Say")
    element.text = text
    return element


def get_digits(
    prompts: list[ET.Element], *, callback_url: str, timeout: int, finish_on_key: str = "#", num_digits: int | None
) -> ET.Element:
    """Ask for keys: `num_digits` given, AT posts as soon as that many were pressed;
    otherwise when `finish_on_key` is pressed."""
    element = ET.Element("GetDigits", timeout=str(timeout), finishOnKey=finish_on_key)
    if num_digits is not None:
        element.set("numDigits", str(num_digits))
    element.set("callbackUrl", callback_url)
    element.extend(prompts)
    return element


def redirect(url: str) -> ET.Element:
    element = ET.Element("Redirect")
    element.text = url
    return element


def reject() -> ET.Element:
    return ET.Element("Reject")


def with_redirect(body: str, old: str, new: str) -> str:
    """`body` (a reply of ours) with its `Redirect` to `old` sent to `new` instead."""
    return body.replace(f"<Redirect>{escape(old)}</Redirect>", f"<Redirect>{escape(new)}</Redirect>")
