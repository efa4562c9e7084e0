"""Prompt audio: `python bench/voice.py [--prompts 40]`.

Synthesises N distinct prompts (Darija and French menu lines of typical length) with
espeak-ng into a temporary VOICE_AUDIO_DIR, then asks for each again (a cache hit: two
stat calls, no subprocess), and does the same through the Azure backend against the local
fake over HTTP (its time is the HTTP round trip and our handling, not Azure's synthesis).
Prints p50/p95 per prompt and the audio's size per second.

Then the server time of a voice step (`--calls 60`): the app in process on a PostgreSQL
database of its own (dropped at the end) and the shared Redis (keys under a prefix of
its own, deleted), each call from a generated artisan with three months due: the
language offer, French, pay, all due, Wafacash, confirm (a reference): six callbacks,
timed one by one through Flask's test client, prompts synthesised by espeak-ng and
cached (the first calls warm the cache and are not counted).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import datetime as dt  # noqa: E402
import re  # noqa: E402
import urllib.parse  # noqa: E402
import uuid  # noqa: E402

import psycopg  # noqa: E402
import redis  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from gateway import create_app  # noqa: E402
from gateway.config import DEVELOPMENT_CALLBACK_KEY, Settings  # noqa: E402
from gateway.demo import copy_contributors, load_demo  # noqa: E402
from gateway.voice.audio import PromptAudio  # noqa: E402
from gateway.voice.fake_azure import API_KEY, FakeAzureSpeech  # noqa: E402
from gateway.voice.speech import Clip  # noqa: E402
from tests.conftest import REDIS_URL, create_database, drop_database  # noqa: E402

WARM_UP = 5
CALLBACK = re.compile(r'callbackUrl="([^"]+)"')

LINES = {
    "fr": "Pour payer vos cotisations AMO, tapez {n}. Pour revenir, tapez 0.",
    "ary": "باش تخلص الاشتراكات ديال أمو، ورك {n}. باش ترجع، ورك 0.",
}


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000  # noqa: E731
    return f"p50 {pick(0.5):.2f} ms, p95 {pick(0.95):.2f} ms"


def run(audio: PromptAudio, clips: list[Clip]) -> tuple[list[float], list[float], list[Path]]:
    cold, cached, files = [], [], []
    for clip in clips:
        started = time.perf_counter()
        url = audio.url(clip)
        cold.append(time.perf_counter() - started)
        files.append(audio.path(url.rsplit("/", 1)[1][:16]))
    for clip in clips:
        started = time.perf_counter()
        audio.url(clip)
        cached.append(time.perf_counter() - started)
    return cold, cached, files


def sizes(files: list[Path]) -> str:
    seconds, size = 0.0, 0
    for path in files:
        with wave.open(str(path)) as reader:
            seconds += reader.getnframes() / reader.getframerate()
            rate = reader.getframerate()
        size += path.stat().st_size
    each = f"{size / len(files) / 1024:.0f} KB a prompt ({seconds / len(files):.1f} s)"
    return f"{each}, {size / seconds / 1024:.1f} KB/s at {rate} Hz"


def steps(calls: int, directory: str) -> dict[str, list[float]]:
    """Seconds per callback of `calls` French calls paying to a reference, by step."""
    url = create_database("hirfa_voicebench")
    prefix = f"voicebench{uuid.uuid4().hex[:8]}:"
    now = dt.datetime.now(dt.UTC)
    try:
        with Session(create_engine(url)) as session:
            load_demo(session, clock=lambda: now)
            session.commit()
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            phone = lambda i: f"+2126{20000000 + i:08d}"  # noqa: E731
            copy_contributors(conn, count=calls + WARM_UP, tag="VOICE", phone=phone, now=now)
        settings = Settings(
            env="development", database_url=url, redis_url=REDIS_URL, redis_prefix=prefix, log_level="WARNING",
            voice_audio_dir=f"{directory}/steps", voice_recordings_dir=directory,
        )  # fmt: skip
        client = create_app(settings).test_client()
        timed: dict[str, list[float]] = {}
        names = ("offer", "language", "pay", "all due", "network", "confirm")
        for i in range(calls + WARM_UP):
            form = {"isActive": "1", "sessionId": f"ATVId_{uuid.uuid4().hex}", "direction": "Inbound"}
            form |= {"callerNumber": phone(i), "destinationNumber": "+212522000000"}
            target = f"/voice/africastalking?key={DEVELOPMENT_CALLBACK_KEY}"
            for name, key in zip(names, ("", "2", "2", "1", "1", "1"), strict=True):
                started = time.perf_counter()
                body = client.post(target, data={**form, "dtmfDigits": key}).get_data(as_text=True)
                if i >= WARM_UP:
                    timed.setdefault(name, []).append(time.perf_counter() - started)
                found = CALLBACK.search(body)
                if found is None:
                    assert name == "confirm", body
                    break
                parts = urllib.parse.urlsplit(found.group(1).replace("&amp;", "&"))
                target = f"{parts.path}?{parts.query}"
        return timed
    finally:
        drop_database(url)
        store = redis.Redis.from_url(REDIS_URL)
        for key in store.scan_iter(f"{prefix}*"):
            store.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args()
    clips = [Clip(language, line.format(n=n)) for n in range(args.prompts // 2) for language, line in LINES.items()]
    with tempfile.TemporaryDirectory() as directory, FakeAzureSpeech() as fake:
        espeak = Settings(env="development", voice_audio_dir=f"{directory}/espeak", voice_recordings_dir=directory)
        azure = Settings(
            env="development", voice_tts_backend="azure", azure_speech_key=API_KEY, azure_speech_endpoint=fake.endpoint,
            voice_audio_dir=f"{directory}/azure", voice_recordings_dir=directory,
        )  # fmt: skip
        for name, settings in (("espeak-ng", espeak), ("azure (local fake)", azure)):
            cold, cached, files = run(PromptAudio(settings), clips)
            print(f"{name}: {len(clips)} prompts")
            print(f"  cold (synthesised, written): {percentiles(cold)}; mean {statistics.mean(cold) * 1000:.1f} ms")
            print(f"  cached:                      {percentiles(cached)}")
            print(f"  audio: {sizes(files)}")
        if args.calls:
            timed = steps(args.calls, directory)
            every = [seconds for samples in timed.values() for seconds in samples]
            print(f"voice steps (in process, PostgreSQL, prompts cached), {args.calls} calls: {percentiles(every)}")
            for name, samples in timed.items():
                print(f"  {name:9} {percentiles(samples)}")


if __name__ == "__main__":
    main()
