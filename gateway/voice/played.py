"""What the voice line played, in Redis: the prompts counted by where their audio came
from (recorded by a voice talent, or synthesised), for the dashboard; and in development
only, the transcript of each audio key (its language and text), which the simulator's
voice mode and a fake Africa's Talking client read beside the audio.

Counted where a reply's XML is built (gateway/voice/adapter.py); in a hop the commands ride
with its session write (gateway/riders.py), else one pipeline per reply:
a prompt is counted each time a reply plays it (a replayed reply, stored XML, is not
built again: not counted again). Two hashes per reply: the UTC hour's (for today's hourly
chart, kept two days) and the Morocco day's (for the 30 days chart, kept 35 days).
Transcripts are kept a day and written only when `transcripts` is on (HIRFA_ENV=development):
a dynamic clip's text may be a caller's reference or amount."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis

from gateway.clock import MOROCCO
from gateway.metrics import VOICE_PROMPTS
from gateway.redis_client import round_trip
from gateway.riders import Command, current_riders
from gateway.voice.audio import RECORDED, SYNTHESISED, key_in
from gateway.voice.speech import Clip

log = logging.getLogger(__name__)
SOURCES = (RECORDED, SYNTHESISED)
HOUR_KEPT = dt.timedelta(days=2)
DAY_KEPT = dt.timedelta(days=35)
TRANSCRIPT_KEPT = dt.timedelta(days=1)


class PlayedPrompts:
    def __init__(
        self, client: redis.Redis, *, prefix: str, clock: Callable[[], dt.datetime], transcripts: bool
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self.transcripts = transcripts

    def _hour(self, moment: dt.datetime) -> str:
        return f"{self.prefix}voice-prompts:h:{moment.astimezone(dt.UTC):%Y-%m-%dT%H}"

    def _day(self, day: dt.date) -> str:
        return f"{self.prefix}voice-prompts:d:{day.isoformat()}"

    def _transcript(self, key: str) -> str:
        return f"{self.prefix}voice-clip:{key}"

    def note(self, played: Sequence[tuple[str, Clip, str]]) -> None:
        """A reply's prompts: (audio URL, clip, source) each. Never raises: a count lost
        is better than a call cut (Redis down is logged)."""
        if not played:
            return
        now = self.clock()
        counts = {source: sum(1 for _, _, s in played if s == source) for source in SOURCES}
        for source, n in counts.items():
            VOICE_PROMPTS.labels(source).inc(n)
        commands: list[Command] = []
        for key, kept in ((self._hour(now), HOUR_KEPT), (self._day(now.astimezone(MOROCCO).date()), DAY_KEPT)):
            commands += [("HINCRBY", key, source, n) for source, n in counts.items() if n]
            commands.append(("EXPIRE", key, int(kept.total_seconds())))
        if self.transcripts:
            for url, clip, source in played:
                text = json.dumps({"language": clip.language, "text": clip.text, "source": source})
                commands.append(
                    ("SET", self._transcript(key_in(url)), text, "EX", int(TRANSCRIPT_KEPT.total_seconds()))
                )
        riders = current_riders()
        if riders is not None:
            # In a hop: with its session write (gateway/riders.py), no round trip of its own.
            riders.add(commands, lambda: self._send(commands))
        else:
            self._send(commands)

    def _send(self, commands: list[Command]) -> None:
        try:
            failed = [reply for reply in round_trip(self.client, commands) if isinstance(reply, Exception)]
        except redis.RedisError:
            log.warning("voice: prompts played not counted (Redis)", exc_info=True)
            return
        if failed:
            log.warning("voice: prompts played not counted (Redis refused)", extra={"error": str(failed[0])})

    def transcripts_of(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The transcripts known for these audio keys (development), by key."""
        if not keys:
            return {}
        values = self.client.mget([self._transcript(key) for key in keys])
        return {key: json.loads(value) for key, value in zip(keys, values, strict=True) if value is not None}

    def counts(self, starts: Iterable[dt.datetime], *, hourly: bool) -> list[dict[str, int]]:
        """Prompts played per bucket: by UTC hour (`starts` on whole hours), else by the
        Morocco day each start falls on; {source: n} each."""
        pipe = self.client.pipeline(transaction=False)
        for start in starts:
            pipe.hgetall(self._hour(start) if hourly else self._day(start.astimezone(MOROCCO).date()))
        return [
            {name.decode(): int(value) for name, value in row.items() if name.decode() in SOURCES}
            for row in pipe.execute()
        ]
