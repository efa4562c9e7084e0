"""Prompt audio: `python bench/voice.py [--prompts 40]`.

Synthesises N distinct prompts (Darija and French menu lines of typical length) with
espeak-ng into a temporary VOICE_AUDIO_DIR, then asks for each again (a cache hit: two
stat calls, no subprocess), and does the same through the Azure backend against the local
fake over HTTP (its time is the HTTP round trip and our handling, not Azure's synthesis).
Prints p50/p95 per prompt and the audio's size per second.
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

from gateway.config import Settings  # noqa: E402
from gateway.voice.audio import PromptAudio  # noqa: E402
from gateway.voice.fake_azure import API_KEY, FakeAzureSpeech  # noqa: E402
from gateway.voice.speech import Clip  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=40)
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


if __name__ == "__main__":
    main()
