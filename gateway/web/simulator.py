"""The web phone simulator (development only): a page that dials the real USSD
endpoint with Africa's Talking's protocol, and shows the SMS each phone received. In
voice mode it calls the real voice endpoint as Africa's Talking Voice does (its
callbacks, then isActive=0), plays each prompt's audio in order and shows its text
beside it (`/simulator/voice/clips`: the transcripts noted in development only,
gateway/voice/played.py).

`create_app` registers this blueprint only when HIRFA_ENV=development, and it answers
only this machine (loopback): the page carries the callback key and the SMS feed shows
every phone's references and pick-up codes. A development instance reachable from a
network, or behind a local proxy (TRUSTED_PROXIES), answers 404 to anyone else."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from sqlalchemy import select

from gateway.clock import MOROCCO, local_today
from gateway.db import get_db
from gateway.demo import DEMO_AGENTS, DEMO_PIN, UNLINKED_DEMO_PHONES, demo_artisans
from gateway.phones import InvalidPhone, caller_e164
from gateway.voice.audio import KEY_RE
from gateway.web.auth import client_is_loopback
from gateway.wiring import hirfa, played_prompts
from menus.i18n import LANGUAGES, N_, Translator
from models import OutboxMessage

bp = Blueprint(
    "simulator",
    __name__,
    url_prefix="/simulator",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
AGGREGATOR = "africastalking"  # the protocol the page speaks
SMS_SHOWN = 20
# The number a simulated call reaches when AT_VOICE_NUMBER is not set (the AT number the
# voice callback is configured on: the `service code` of a call).
VOICE_NUMBER = "+212522000000"
CLIPS_ASKED = 100  # keys in one /simulator/voice/clips request (a reply plays fewer)
# Operators (docs/product.md): the simulated phone says which network it is on, as AT does.
NETWORKS = (("60401", "Maroc Telecom"), ("60400", "Orange"), ("60402", "inwi"))

# The page's own texts, by the key the page uses; translated into both languages so
# that the language toggle needs no round trip.
CHROME = {
    "title": N_("Phone simulator"),
    "intro": N_("Development only: this phone talks to the real USSD endpoint with Africa's Talking's protocol."),
    "phone": N_("Phone"),
    "demo_phones": N_("Demo phones"),
    "other_number": N_("Another number"),
    "other_placeholder": N_("e.g. +212612345678"),
    "short_code": N_("Short code"),
    "network": N_("Network"),
    "dial": N_("Dial"),
    "send": N_("Send"),
    "ok": N_("OK"),
    "clear": N_("Clear"),
    "hang_up": N_("Hang up"),
    "language": N_("Language"),
    "idle": N_("Choose a phone, then dial the short code."),
    "waiting": N_("Please wait…"),
    "session_over": N_("Session over. Press OK."),
    "hung_up": N_("You hung up."),
    "network_error": N_("Connection problem: the session has ended."),
    "bad_phone": N_("This phone number is not valid."),
    "answer": N_("Your answer"),
    "keyboard_help": N_("Keyboard: digits, * and #; Enter sends, Backspace erases, Escape hangs up."),
    "sms_title": N_("SMS received by this phone"),
    "no_sms": N_("No SMS yet."),
    "state_pending": N_("Waiting to be sent"),
    "state_sending": N_("Being sent"),
    "state_sent": N_("Sent"),
    "state_delivered": N_("Delivered"),
    "state_failed": N_("Not sent"),
    "mode": N_("Mode"),
    "mode_ussd": N_("USSD"),
    "mode_voice": N_("Voice call"),
    "call": N_("Call"),
    "voice_idle": N_("Choose a phone, then call the voice line."),
    "voice_calling": N_("Calling…"),
    "voice_listen": N_("Listen, then answer on the keypad."),
    "voice_keys": N_("Keys: a digit answers, 0 back, * repeat, # ends a number."),
    "voice_ended": N_("Call ended."),
    "transcript": N_("What the voice line said"),
    "no_transcript": N_("Nothing said yet."),
    "you_pressed": N_("You pressed {key}"),
    "silence": N_("(no key pressed)"),
    "source_recorded": N_("recorded"),
    "source_synthesised": N_("synthesised"),
}


def chrome(language: str) -> dict[str, str]:
    translate = Translator(language)
    return {key: translate(message) for key, message in CHROME.items()}


def demo_phones() -> list[dict[str, Any]]:
    """The demo phones (README, "Dialing the demo"), with what a tester needs to know to use them."""
    today = local_today(hirfa().clock())
    artisans = demo_artisans(today)
    unlinked = [row for row in artisans if row["phone"] is None]
    phones: list[dict[str, Any]] = []

    def add(phone: str, role: str, message: str, before: str = "", **values: object) -> None:
        labels = {language: before + Translator(language)(message, **values) for language in LANGUAGES}
        phones.append({"phone": phone, "role": role, "labels": labels})

    # Field names from the set the catalogue checks fill in (tests/unit/test_screen_budgets.py).
    for row in artisans:
        if row["phone"]:
            add(row["phone"], "artisan", N_("artisan"), before=f"{row['first_name']} {row['last_name']} · ")
    for phone, row in zip(UNLINKED_DEMO_PHONES, unlinked, strict=False):
        add(phone, "unknown", N_("Not linked: CIN {code}, born in {n}"), code=row["cin"], n=row["birth_year"])
    for agent in DEMO_AGENTS:
        add(agent["phone"], "agent", N_("Agent {code}, PIN {n}"), code=agent["agent_code"], n=DEMO_PIN)
    return phones


@bp.before_request
def loopback_only() -> None:
    if not client_is_loopback(request.remote_addr):
        abort(404)


@bp.get("")
def page() -> str:
    settings = hirfa().settings
    # The page is for the team and reviewers (French first); the phone's own screens
    # follow the artisan's language, as on a real phone.
    language = request.args.get("lang", "fr")
    language = language if language in LANGUAGES else "fr"
    key = settings.ussd_callback_key
    config = {
        "hopUrl": url_for("ussd.hop", aggregator=AGGREGATOR, key=key),
        "eventsUrl": url_for("ussd.session_event", aggregator=AGGREGATOR, key=key),
        "smsUrl": url_for("simulator.sms"),
        "voiceUrl": url_for("voice.call", key=settings.voice_callback_keys[0]),
        "voiceNumber": settings.at_voice_number or VOICE_NUMBER,
        "clipsUrl": url_for("simulator.voice_clips"),
        "texts": {code: chrome(code) for code in LANGUAGES},
        "language": language,
    }
    return render_template(
        "simulator.html",
        config=config,
        texts=chrome(language),
        language=language,
        phones=demo_phones(),
        networks=NETWORKS,
        service_code=settings.short_code,
    )


@bp.get("/phones")
def phones() -> Response:
    return jsonify(phones=demo_phones())


@bp.get("/sms")
def sms() -> Response:
    try:
        phone = caller_e164((request.args.get("phone") or "").strip())
    except InvalidPhone:
        abort(400, description="phone: give a phone number in E.164 form, like +212600000002")
    rows = get_db().scalars(
        select(OutboxMessage)
        .where(OutboxMessage.recipient == phone)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(SMS_SHOWN)
    )
    messages = [
        {
            "id": row.id,
            "body": row.body,
            "language": row.language,
            "state": row.state,
            "created_at": row.created_at.isoformat(),
            "local_time": row.created_at.astimezone(MOROCCO).strftime("%d/%m/%Y %H:%M"),
        }
        for row in rows
    ]
    return jsonify(phone=phone, messages=messages)


@bp.get("/voice/clips")
def voice_clips() -> Response:
    """What each prompt said, by audio key (`?key=…` repeated): its language, text and
    source, and where this server serves its audio (the page plays it from here: the
    Play URL names PUBLIC_BASE_URL, which may be another host)."""
    keys = request.args.getlist("key")[:CLIPS_ASKED]
    if not all(KEY_RE.fullmatch(key) for key in keys):
        abort(400, description="key: the 16 hexadecimal digits of an audio URL")
    found = played_prompts().transcripts_of(keys)
    clips = {key: {**clip, "audio": url_for("voice_audio.audio", key=key)} for key, clip in found.items()}
    return jsonify(clips=clips)
