"""The prompts' audio, as Africa's Talking fetches it for `<Play url=...>`: GET
/voice/audio/<key>.wav. The key names the content (gateway.voice.audio), so a response
never changes: cached for a year, immutable, its key as the ETag. Only files of
VOICE_AUDIO_DIR, by a key of 16 hex digits: no other path can be named."""

from __future__ import annotations

from flask import Blueprint, Response, abort, send_file

from gateway.voice.audio import KEY_RE
from gateway.wiring import prompt_audio

bp = Blueprint("voice_audio", __name__)
ONE_YEAR = 365 * 24 * 3600


@bp.get("/voice/audio/<key>.wav")
def audio(key: str) -> Response:
    if not KEY_RE.fullmatch(key):
        abort(404)
    path = prompt_audio().path(key)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="audio/wav", conditional=True, etag=key, max_age=ONE_YEAR)
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response
