"""WAV audio as the voice line keeps it: read with the standard library's `wave`, a header
written whole (espeak-ng streams one with no length), and the checks a recording passes
before a caller hears it."""

from __future__ import annotations

import io
import math
import sys
import wave
from array import array
from dataclasses import dataclass

# What a voice talent's recording must be (flask voice import): telephone audio is 8 kHz
# and Africa's Talking plays 16-bit PCM WAV; 16 kHz is kept as recorded (AT resamples).
RECORDING_RATES = (8000, 16000)
MIN_SECONDS = 0.3
MAX_SECONDS = 30.0
# RMS under -45 dBFS is a silent file (a microphone left muted, a blank export).
SILENCE_RMS = 32768 * 10 ** (-45 / 20)
# More than 0.1 % of samples at full scale: the talent was too close or too loud.
CLIPPED_SHARE = 0.001
FULL_SCALE = 32767


class NotWav(ValueError):
    """Bytes that `wave` cannot read as PCM WAV."""


@dataclass(frozen=True)
class WavInfo:
    channels: int
    rate: int
    sample_bytes: int
    frames: int
    rms: float  # of 16-bit samples, 0..32768
    clipped: float  # share of samples at full scale

    @property
    def seconds(self) -> float:
        return self.frames / self.rate if self.rate else 0.0


@dataclass(frozen=True)
class Pcm:
    channels: int
    sample_bytes: int
    rate: int
    frames: bytes  # only the samples there really are, whatever the header says


def read(raw: bytes) -> Pcm:
    try:
        with wave.open(io.BytesIO(raw), "rb") as reader:
            params = reader.getparams()
            frames = reader.readframes(params.nframes)
    except (wave.Error, EOFError) as error:
        raise NotWav(f"not a PCM WAV file ({str(error) or 'cut short'})") from None
    return Pcm(params.nchannels, params.sampwidth, params.framerate, frames)


def write(pcm: Pcm) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(pcm.channels)
        writer.setsampwidth(pcm.sample_bytes)
        writer.setframerate(pcm.rate)
        writer.writeframes(pcm.frames)
    return out.getvalue()


def whole(raw: bytes) -> bytes:
    """`raw` with a header that states its real length: espeak-ng --stdout writes 0x7ffffff0
    frames (it streams), which players that trust the header read past the end of."""
    return write(read(raw))


def inspect(raw: bytes) -> WavInfo:
    pcm = read(raw)
    frames = pcm.frames
    count = len(frames) // (pcm.sample_bytes * pcm.channels) if pcm.channels and pcm.sample_bytes else 0
    rms = clipped = 0.0
    if pcm.sample_bytes == 2 and frames:
        samples = array("h")
        samples.frombytes(frames[: len(frames) - len(frames) % 2])
        if sys.byteorder == "big":
            samples.byteswap()  # WAV is little-endian
        rms = math.sqrt(sum(sample * sample for sample in samples) / len(samples))
        clipped = sum(1 for sample in samples if sample >= FULL_SCALE or sample <= -FULL_SCALE) / len(samples)
    return WavInfo(pcm.channels, pcm.rate, pcm.sample_bytes, count, rms, clipped)


def recording_problems(raw: bytes) -> list[str]:
    """Why a recording cannot be played to callers (empty: it can)."""
    try:
        info = inspect(raw)
    except NotWav as error:
        return [str(error)]
    problems = []
    if info.channels != 1:
        problems.append(f"{info.channels} channels: mono expected")
    if info.sample_bytes != 2:
        problems.append(f"{8 * info.sample_bytes}-bit samples: 16-bit PCM expected")
    if info.rate not in RECORDING_RATES:
        problems.append(f"{info.rate} Hz: 8000 or 16000 Hz expected")
    if not MIN_SECONDS <= info.seconds <= MAX_SECONDS:
        problems.append(f"{info.seconds:.2f} s long: {MIN_SECONDS}-{MAX_SECONDS:.0f} s expected")
    if info.sample_bytes == 2:
        if info.rms < SILENCE_RMS:
            problems.append(f"silent (RMS {20 * math.log10(max(info.rms, 1) / 32768):.0f} dBFS)")
        elif info.clipped > CLIPPED_SHARE:
            problems.append(f"clipped ({100 * info.clipped:.1f} % of samples at full scale)")
    return problems
