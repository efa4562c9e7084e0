"""GET /voice/audio/<key>.wav: what Africa's Talking fetches for a `<Play url=...>`."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from gateway.voice.speech import Clip
from gateway.wiring import AUDIO_EXTENSION


@pytest.fixture
def voice_app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    return make_app(
        voice_recordings_dir=str(tmp_path / "recordings"),
        voice_audio_dir=str(tmp_path / "audio"),
        public_base_url="https://voice.example.ma",
    )


def test_a_prompts_url_serves_its_wav_cached_for_good(voice_app: Flask) -> None:
    url = voice_app.extensions[AUDIO_EXTENSION].url(Clip("fr", "Pour le français, tapez 2"))
    assert url.startswith("https://voice.example.ma/voice/audio/")
    path = url.removeprefix("https://voice.example.ma")
    client = voice_app.test_client()

    with client.get(path) as response:  # closes send_file's file (warnings are errors)
        data = response.get_data()
    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    key = path.rsplit("/", 1)[1].removesuffix(".wav")
    assert response.headers["ETag"] == f'"{key}"'
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getnchannels() == 1 and reader.getnframes() > 0
    assert int(response.headers["Content-Length"]) == len(data)
    with client.get(path, headers={"If-None-Match": f'"{key}"'}) as again:
        assert again.status_code == 304
    with client.head(path) as head:
        assert head.status_code == 200 and head.headers["Content-Length"] == response.headers["Content-Length"]


@pytest.mark.parametrize(
    "path",
    [
        "/voice/audio/0123456789abcdef.wav",  # a key of nothing
        "/voice/audio/0123456789ABCDEF.wav",  # keys are lower case
        "/voice/audio/0123456789abcde.wav",
        "/voice/audio/..%2F..%2F..%2Fpyproject.toml%00.wav",
        "/voice/audio/../../wsgi.py",
        "/voice/audio/%2e%2e%2f%2e%2e%2fREADME.md.wav",
        "/voice/audio/secret.wav",
    ],
)
def test_unknown_keys_and_other_paths_are_404(voice_app: Flask, path: str) -> None:
    (Path(voice_app.extensions[AUDIO_EXTENSION].cache) / "secret.wav").parent.mkdir(parents=True, exist_ok=True)
    (Path(voice_app.extensions[AUDIO_EXTENSION].cache) / "secret.wav").write_bytes(b"RIFF")
    response = voice_app.test_client().get(path)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
