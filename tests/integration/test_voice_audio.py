"""Prompts' audio: recorded first, synthesised otherwise (real espeak-ng; Azure against its
local fake over HTTP), cached by content hash, and the voice talent's commands."""

from __future__ import annotations

import csv
import dataclasses
import io
import struct
import threading
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from gateway.config import Settings
from gateway.voice import speech, tts
from gateway.voice.audio import MISSING, RECORDED, SYNTHESISED, AudioMissing, Coverage, PromptAudio
from gateway.voice.fake_azure import API_KEY, FakeAzureSpeech, tone
from gateway.voice.service import VOICE_LANGUAGES
from gateway.voice.speech import Clip
from gateway.voice.wav import Pcm, recording_problems, write

FRENCH = [Clip("fr", "Pour le français, tapez 2"), Clip("fr", "Pour revenir, tapez 0")]
DARIJA = [Clip("ary", "لالدارجة ورك 1")]
TACHELHIT = [Clip("shi", "ⴰⵣⵓⵍ"), Clip("shi", "tazwart")]
PROMPTS = {"fr": FRENCH, "ary": DARIJA, "shi": TACHELHIT}


class Counting:
    """A synthesiser that counts its calls (cache hits must make none), espeak-ng underneath."""

    def __init__(self, inner: tts.SpeechSynthesiser) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0
        self._lock = threading.Lock()

    def synthesise(self, text: str, voice: str) -> bytes:
        with self._lock:
            self.calls += 1
        return self.inner.synthesise(text, voice)


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Clip]]:
    monkeypatch.setattr(speech, "fixed_prompts", lambda language: PROMPTS.get(language, []))
    return PROMPTS


@pytest.fixture
def voice_settings(tmp_path: Path) -> Settings:
    return Settings(
        env="development",
        voice_recordings_dir=str(tmp_path / "recordings"),
        voice_audio_dir=str(tmp_path / "audio"),
    )


@pytest.fixture
def fake_azure() -> Iterator[FakeAzureSpeech]:
    with FakeAzureSpeech() as server:
        yield server


def pcm(samples: list[int], rate: int = 8000, channels: int = 1) -> bytes:
    return write(Pcm(channels, 2, rate, struct.pack(f"<{len(samples)}h", *samples)))


def record(settings: Settings, clip: Clip, content: bytes | None = None) -> Path:
    path = PromptAudio(settings).recording(clip)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content or tone(8000, 1.0))
    return path


# Text-to-speech backends ----------------------------------------------------------------


def test_espeak_makes_a_wav_that_wave_reads_with_its_true_length() -> None:
    audio = tts.EspeakSynthesiser().synthesise("Pour le français, tapez 2", "fr")

    with wave.open(io.BytesIO(audio)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth()) == (1, 2)
        frames = reader.getnframes()
        # espeak-ng streams a header of 0x7ffffff0 frames: ours states what is there.
        assert frames * 2 == len(reader.readframes(frames)) == len(audio) - 44
        assert 0.5 < frames / reader.getframerate() < 5
    # A prompt starting with "-" is text, not an option of espeak-ng.
    assert tts.EspeakSynthesiser().synthesise("-1 dirham", "fr")


def test_espeak_failures_are_tts_errors(tmp_path: Path) -> None:
    with pytest.raises(tts.TtsError, match="could not run"):
        tts.EspeakSynthesiser(program="/nonexistent/espeak-ng").synthesise("x", "fr")
    with pytest.raises(tts.TtsError, match=r"espeak-ng failed \(1\)"):
        tts.EspeakSynthesiser(program="false").synthesise("x", "fr")
    hung = tmp_path / "hung-espeak"
    hung.write_text("#!/bin/sh\nexec sleep 5\n")
    hung.chmod(0o755)
    with pytest.raises(tts.TtsError, match=r"longer than 0\.3 s"):
        tts.EspeakSynthesiser(program=str(hung), timeout_seconds=0.3).synthesise("x", "fr")


def test_azure_sends_the_key_the_format_and_ssml_and_gets_a_wav(fake_azure: FakeAzureSpeech) -> None:
    azure = tts.AzureSynthesiser(key=API_KEY, endpoint=fake_azure.endpoint)
    text = 'Tapez 1 <pour> "oui" & 2'  # characters SSML must escape

    audio = azure.synthesise(text, "fr-FR-DeniseNeural")

    with wave.open(io.BytesIO(audio)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 8000)
    [synthesis] = fake_azure.received
    assert synthesis.text == text and synthesis.voice == "fr-FR-DeniseNeural" and synthesis.locale == "fr-FR"
    assert synthesis.output_format == "riff-8khz-16bit-mono-pcm" and synthesis.user_agent == "hirfa-voice"
    azure.synthesise("لالدارجة ورك 1", "ar-MA-MounaNeural")
    assert fake_azure.received[1].locale == "ar-MA" and fake_azure.received[1].text == "لالدارجة ورك 1"
    assert fake_azure.refused == []


def test_azure_refusals_and_outages_are_tts_errors_without_the_key(fake_azure: FakeAzureSpeech) -> None:
    wrong = tts.AzureSynthesiser(key="wrong-key-7f3a9c2e", endpoint=fake_azure.endpoint)
    with pytest.raises(tts.TtsError, match=r"refused the key \(HTTP 401\)") as refused:
        wrong.synthesise("Bonjour", "fr-FR-DeniseNeural")
    assert "wrong-key" not in str(refused.value)
    assert fake_azure.refused == [(401, "Access denied due to invalid subscription key")]

    azure = tts.AzureSynthesiser(key=API_KEY, endpoint=fake_azure.endpoint, timeout_seconds=0.5)
    fake_azure.slow_seconds = 1.5
    fake_azure.script("throttled", "server_error", "not_audio", "slow")
    for match in ("throttled", "HTTP 500", "sent no WAV", "did not answer within 0.5 s"):
        with pytest.raises(tts.TtsError, match=match):
            azure.synthesise("Bonjour", "fr-FR-DeniseNeural")
    with pytest.raises(tts.TtsError, match="HTTP 400"):  # a voice Azure does not have
        azure.synthesise("Bonjour", "fr-FR-NoSuchNeural")
    unreachable = tts.AzureSynthesiser(key=API_KEY, endpoint="http://127.0.0.1:9", timeout_seconds=0.5)
    with pytest.raises(tts.TtsError, match="unreachable"):
        unreachable.synthesise("Bonjour", "fr-FR-DeniseNeural")


def test_the_backend_and_its_voices_come_from_the_settings(voice_settings: Settings) -> None:
    azure = dataclasses.replace(
        voice_settings, voice_tts_backend="azure", azure_speech_key=API_KEY, azure_speech_region="westeurope"
    )
    synthesiser = tts.synthesiser(azure)
    assert isinstance(synthesiser, tts.AzureSynthesiser)
    assert synthesiser.url == "https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1"
    assert PromptAudio(azure).voice("ary") == "ar-MA-MounaNeural"
    assert PromptAudio(voice_settings).voice("ary") == "ar"
    none = PromptAudio(dataclasses.replace(voice_settings, voice_tts_backend="none"))
    assert none.voice("fr") is None and none.source(FRENCH[0]) == MISSING


# Recorded, else synthesised, else missing; the cache -----------------------------------


def test_a_synthesised_prompt_is_made_once_then_served_from_the_cache(voice_settings: Settings) -> None:
    counting = Counting(tts.EspeakSynthesiser())
    audio = PromptAudio(voice_settings, counting)
    clip = FRENCH[0]

    url = audio.url(clip)
    assert audio.url(clip) == url and PromptAudio(voice_settings, counting).url(clip) == url
    assert counting.calls == 1
    key = url.rsplit("/", 1)[1].removesuffix(".wav")
    assert url == f"http://127.0.0.1:5000/voice/audio/{key}.wav" and audio.source(clip) == SYNTHESISED
    with wave.open(str(audio.path(key))) as reader:
        assert reader.getnframes() > 0
    # Another voice or backend is other audio: another key.
    assert PromptAudio(voice_settings, tts.NoSynthesiser()).source(clip) == MISSING
    assert audio.url(FRENCH[1]) != url and counting.calls == 2
    assert [p.name for p in audio.cache.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_concurrent_requests_for_one_prompt_leave_one_whole_file(voice_settings: Settings) -> None:
    counting = Counting(tts.EspeakSynthesiser())
    audio = PromptAudio(voice_settings, counting)
    barrier = threading.Barrier(6)
    urls: list[str] = []

    def fetch() -> None:
        barrier.wait()
        urls.append(audio.url(DARIJA[0]))

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(urls)) == 1 and 1 <= counting.calls <= 6
    assert [p.name for p in audio.cache.iterdir()] == [urls[0].rsplit("/", 1)[1]]
    with wave.open(str(audio.cache / urls[0].rsplit("/", 1)[1])) as reader:
        assert reader.getnframes() * 2 == len(reader.readframes(reader.getnframes()))


def test_a_recording_comes_first_and_a_new_take_gets_a_new_url(voice_settings: Settings) -> None:
    counting = Counting(tts.EspeakSynthesiser())
    audio = PromptAudio(voice_settings, counting)
    clip = FRENCH[0]
    synthesised = audio.url(clip)

    record(voice_settings, clip, tone(8000, 1.0))
    recorded = audio.url(clip)
    assert recorded != synthesised and audio.source(clip) == RECORDED
    assert audio.path(recorded.rsplit("/", 1)[1][:16]).read_bytes() == tone(8000, 1.0)

    record(voice_settings, clip, tone(16000, 1.5))  # the talent records it again
    again = audio.url(clip)
    assert again != recorded and audio.path(again.rsplit("/", 1)[1][:16]).read_bytes() == tone(16000, 1.5)
    assert counting.calls == 1


def test_a_prompt_without_recording_nor_voice_is_missing(voice_settings: Settings, fake_azure: FakeAzureSpeech) -> None:
    audio = PromptAudio(voice_settings)
    with pytest.raises(AudioMissing, match="not recorded, and no TTS voice"):
        audio.url(TACHELHIT[0])
    record(voice_settings, TACHELHIT[0])
    assert audio.url(TACHELHIT[0]).endswith(".wav")

    azure = PromptAudio(voice_settings, tts.AzureSynthesiser(key="wrong", endpoint=fake_azure.endpoint))
    with pytest.raises(AudioMissing, match="refused the key"):  # the caller hears a recording or "unavailable"
        azure.url(FRENCH[0])


def test_azure_prompts_are_cached_like_espeak_ones(voice_settings: Settings, fake_azure: FakeAzureSpeech) -> None:
    azure = dataclasses.replace(
        voice_settings, voice_tts_backend="azure", azure_speech_key=API_KEY, azure_speech_endpoint=fake_azure.endpoint
    )
    audio = PromptAudio(azure)
    first = audio.url(DARIJA[0])
    assert audio.url(DARIJA[0]) == first and len(fake_azure.received) == 1
    assert fake_azure.received[0].voice == "ar-MA-MounaNeural"


# Which languages a call offers; coverage ------------------------------------------------


def test_a_language_is_offered_when_recorded_or_when_synthesised_ones_are_allowed(
    voice_settings: Settings, prompts: dict[str, list[Clip]]
) -> None:
    strict = PromptAudio(dataclasses.replace(voice_settings, voice_offer_synthesised=False))
    lenient = PromptAudio(voice_settings)
    assert lenient.offered("fr") and lenient.offered("ary")
    assert not strict.offered("fr") and not strict.offered("ary")
    assert not lenient.offered("shi") and not strict.offered("shi")  # no voice: recordings only
    assert not lenient.offered("tzm")  # no prompt at all is not "all recorded"

    record(voice_settings, TACHELHIT[0])
    assert not strict.offered("shi")
    record(voice_settings, TACHELHIT[1])
    assert strict.offered("shi") and lenient.offered("shi")
    for clip in FRENCH:
        record(voice_settings, clip)
    assert strict.offered("fr")


def test_coverage_counts_recorded_synthesised_cached_and_missing(
    voice_settings: Settings, prompts: dict[str, list[Clip]]
) -> None:
    counting = Counting(tts.EspeakSynthesiser())
    audio = PromptAudio(voice_settings, counting)
    record(voice_settings, FRENCH[0])
    record(voice_settings, TACHELHIT[1])
    assert audio.coverage("fr") == Coverage("fr", recorded=1, synthesised=1, cached=0, missing=0, offered=True)

    assert audio.warm("fr") == (1, []) and audio.warm("ary") == (1, [])
    assert audio.warm("fr") == (0, []) and counting.calls == 2  # warm twice: nothing made again
    assert audio.coverage("fr") == Coverage("fr", recorded=1, synthesised=1, cached=1, missing=0, offered=True)
    assert audio.coverage("shi") == Coverage("shi", recorded=1, synthesised=0, cached=0, missing=1, offered=False)
    assert audio.warm("shi") == (0, [])  # nothing to synthesise: no voice


# The commands ---------------------------------------------------------------------------


@pytest.fixture
def voice_app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    return make_app(voice_recordings_dir=str(tmp_path / "recordings"), voice_audio_dir=str(tmp_path / "audio"))


def run(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["voice", *args])
    return result.exit_code, result.output


def test_script_lists_every_fixed_prompt_with_its_id_and_status(voice_app: Flask, prompts: object) -> None:
    record(voice_app.extensions["hirfa"].settings, FRENCH[1])
    code, output = run(voice_app, "script", "--language", "fr")
    assert code == 0, output
    assert list(csv.reader(io.StringIO(output))) == [
        ["id", "language", "text", "status"],
        [FRENCH[0].id, "fr", FRENCH[0].text, "synthesised"],
        [FRENCH[1].id, "fr", FRENCH[1].text, "recorded"],
    ]
    code, output = run(voice_app, "script", "--language", "shi")
    assert [row[3] for row in csv.reader(io.StringIO(output))][1:] == ["missing", "missing"]


@pytest.mark.parametrize("language", VOICE_LANGUAGES)
def test_script_and_coverage_agree_with_the_real_fixed_prompts(voice_app: Flask, language: str) -> None:
    code, output = run(voice_app, "script", "--language", language)
    assert code == 0, output
    rows = list(csv.DictReader(io.StringIO(output)))
    clips = speech.fixed_prompts(language)
    assert [(row["id"], row["language"]) for row in rows] == [(clip.id, language) for clip in clips]
    statuses = {row["status"] for row in rows}
    assert statuses <= ({SYNTHESISED} if language in ("ary", "fr") else {MISSING})
    code, output = run(voice_app, "coverage", "--language", language)
    assert code == 0, output
    assert output.splitlines()[1].split()[:2] == [language, str(len(clips))]
    assert output.split()[-1] == ("yes" if language in ("ary", "fr") else "no")  # development offers synthesised


def test_coverage_prints_each_language(voice_app: Flask, prompts: object) -> None:
    record(voice_app.extensions["hirfa"].settings, TACHELHIT[0])
    code, output = run(voice_app, "coverage")
    assert code == 0, output
    table = {line.split()[0]: line.split()[1:] for line in output.splitlines()[1:]}
    assert table["fr"] == ["2", "0", "2", "0", "0", "yes"]
    assert table["ary"] == ["1", "0", "1", "0", "0", "yes"]
    assert table["shi"] == ["2", "1", "0", "0", "1", "no"]
    assert table["tzm"] == ["0", "0", "0", "0", "0", "no"]


def test_warm_synthesises_ahead_then_a_call_finds_them_cached(voice_app: Flask, prompts: object) -> None:
    code, output = run(voice_app, "warm")
    assert code == 0, output
    assert "fr: 2 synthesised" in output and "ary: 1 synthesised" in output and "shi: no espeak voice" in output
    code, output = run(voice_app, "coverage", "-l", "fr")
    assert output.splitlines()[1].split() == ["fr", "2", "0", "2", "2", "0", "yes"]
    code, output = run(voice_app, "warm", "-l", "fr")
    assert "fr: 0 synthesised" in output


def test_import_keeps_good_recordings_and_reports_each_bad_one(
    voice_app: Flask, prompts: object, tmp_path: Path
) -> None:
    takes = tmp_path / "takes"
    takes.mkdir()
    (takes / f"{TACHELHIT[0].id}.wav").write_bytes(tone(16000, 2.0))
    (takes / f"{TACHELHIT[1].id}.wav").write_bytes(pcm([0] * 8000))  # silent
    bad = {
        "short.wav": tone(8000, 0.1),
        "stereo.wav": pcm([1000, -1000] * 8000, channels=2),
        "cd.wav": tone(44100, 1.0),
        "clipped.wav": pcm([32767, -32768] * 4000),
        "notes.wav": b"not audio at all",
    }
    for name, content in bad.items():
        (takes / name).write_bytes(content)

    code, output = run(voice_app, "import", str(takes), "--language", "shi")

    assert code == 1
    assert f"refused {TACHELHIT[1].id}.wav: silent" in output
    for name in bad:  # named otherwise than <id>.wav, without a mapping
        assert f"refused {name}: '{name[:-4]}' is no prompt id (16 hexadecimal digits)" in output
    assert "voice import shi: 1 imported, 6 refused" in output
    settings = voice_app.extensions["hirfa"].settings
    audio = PromptAudio(settings)
    assert audio.recording(TACHELHIT[0]).read_bytes() == tone(16000, 2.0)
    assert not audio.recording(TACHELHIT[1]).exists()
    assert audio.coverage("shi").recorded == 1


def test_import_with_a_mapping_checks_each_file(voice_app: Flask, prompts: object, tmp_path: Path) -> None:
    takes = tmp_path / "takes"
    takes.mkdir()
    files = {
        "001.wav": tone(8000, 1.0),
        "002.wav": tone(8000, 0.1),
        "003.wav": tone(44100, 1.0),
        "004.wav": pcm([32767, -32768] * 4000),
        "005.wav": pcm([1000, -1000] * 8000, channels=2),
    }
    for name, content in files.items():
        (takes / name).write_bytes(content)
    mapping = tmp_path / "takes.csv"
    mapping.write_text(
        "file,id\n"
        f"001.wav,{FRENCH[0].id}\n002.wav,{FRENCH[1].id}\n003.wav,{FRENCH[1].id}\n"
        f"004.wav,{FRENCH[1].id}\n005.wav,{FRENCH[1].id}\n006.wav,{FRENCH[1].id}\n"
        f"001.wav,{DARIJA[0].id}\n"
    )

    code, output = run(voice_app, "import", str(takes), "-l", "fr", "--mapping", str(mapping))

    assert code == 1
    assert "refused 002.wav: 0.10 s long: 0.3-30 s expected" in output
    assert "refused 003.wav: 44100 Hz: 8000 or 16000 Hz expected" in output
    assert "refused 004.wav: clipped (100.0 % of samples at full scale)" in output
    assert "refused 005.wav: 2 channels: mono expected" in output
    assert "refused 006.wav: no such file" in output
    assert f"refused 001.wav: {DARIJA[0].id} is no fr prompt" in output
    assert "voice import fr: 1 imported, 6 refused" in output
    audio = PromptAudio(voice_app.extensions["hirfa"].settings)
    assert audio.source(FRENCH[0]) == RECORDED and audio.source(FRENCH[1]) == SYNTHESISED


def test_recording_checks() -> None:
    assert recording_problems(tone(8000, 1.0)) == []
    assert recording_problems(tone(16000, 29.0)) == []
    assert recording_problems(tone(8000, 31.0)) == ["31.00 s long: 0.3-30 s expected"]
    assert recording_problems(pcm([0] * 8000)) == ["silent (RMS -90 dBFS)"]
    assert recording_problems(pcm([50, -50] * 4000)) == ["silent (RMS -56 dBFS)"]
    assert recording_problems(b"RIFF") == ["not a PCM WAV file (cut short)"]
    assert recording_problems(b"ID3 an mp3") == ["not a PCM WAV file (file does not start with RIFF id)"]
    # A cut file is as long as the samples it holds, whatever its header says.
    assert recording_problems(tone(8000, 1.0)[:1000]) == ["0.06 s long: 0.3-30 s expected"]
    assert recording_problems(write(Pcm(1, 1, 8000, b"\x80" * 8000))) == ["8-bit samples: 16-bit PCM expected"]
