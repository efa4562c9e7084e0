"""The load: a few threads dialing real sessions over HTTP as Africa's Talking does, and
what they saw (every hop, every payment an agent saw confirmed).

Status threads cycle through the demo's artisans' menus. Payment threads each take a new
artisan of the pool, get a reference (dial, 2, 1, 1, 1) and have the demo agent confirm
it (dial, PIN, 1, reference, 1 cash received). A session cut by a polite END starts over,
as a person would redial; an agent whose confirm hop failed dials again, and finds the
reference either still open (confirms it) or already paid (the earlier hop went through)."""

from __future__ import annotations

import http.client
import itertools
import re
import statistics
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field

from drills.infra import AGENT_PHONE, AGENT_PIN, CALLBACK_KEY, POOL_PHONE_BASE
from menus.i18n import Translator

LANGUAGES = ("ar", "fr")
UNAVAILABLE = tuple(Translator(language)("Service unavailable. Please try again later.") for language in LANGUAGES)
RECORDED = tuple(Translator(language)("Payment recorded.") for language in LANGUAGES)
RESUME_OFFER = tuple(Translator(language)("Your last session was cut off.") for language in LANGUAGES)
CASH_RECEIVED = tuple(Translator(language)("1 Cash received") for language in LANGUAGES)
REFERENCE = re.compile(r"\b(\d{3})-(\d{3})-(\d{4})\b")
RECEIPT = re.compile(r"\b([A-Z]{2}[0-9]{6,14})\b")
# Sessions of the status threads: (phone, inputs after the dial). Each ends on a CON or END.
STATUS_SESSIONS = (
    ("+212600000001", ("1", "98")),  # Fatima: registration, AMO status
    ("+212600000003", ("1",)),  # Aicha, in French: registration and dues
    ("+212600000001", ("3",)),  # Fatima: reimbursements
    ("+212600000009", ("4",)),  # unlinked phone: cash points, regions
    ("+212600000002", ("2",)),  # Youssef: dues
)
THINK_SECONDS = 0.02  # between two hops of a session
REDIAL_SECONDS = 0.2  # after a polite END, before dialing again
HTTP_TIMEOUT = 10.0
CONFIRM_PATIENCE = 60.0  # an agent retries a confirmation that long
STOP_GRACE = 3.0  # ... or this long after the load is told to stop


@dataclass(frozen=True)
class HopRecord:
    started: float  # monotonic
    seconds: float
    status: int  # HTTP status; 0 when no answer came (connection refused or reset, timeout)
    kind: str  # con, end, unavailable, other (200 but neither CON nor END), http (not 200), error
    flow: str  # status, pay, agent, witness

    @property
    def ended(self) -> float:
        return self.started + self.seconds

    @property
    def normal(self) -> bool:
        return self.kind in ("con", "end")


def classify(status: int, body: str) -> str:
    if status == 0:
        return "error"
    if status != 200:
        return "http"
    if body.startswith("END ") and any(text in body for text in UNAVAILABLE):
        return "unavailable"
    if body.startswith("CON "):
        return "con"
    if body.startswith("END "):
        return "end"
    return "other"


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hops: list[HopRecord] = []
        self.resume_offers = 0  # first screens offering to take up a session cut off mid-flow

    def add(self, record: HopRecord) -> None:
        with self.lock:
            self.hops.append(record)

    def snapshot(self) -> list[HopRecord]:
        with self.lock:
            return list(self.hops)


class Call:
    """One USSD session: `text` is every input so far joined by `*`."""

    def __init__(self, base_url: str, phone: str, recorder: Recorder, flow: str) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.path = f"/ussd/africastalking?key={CALLBACK_KEY}"
        self.phone = phone
        self.recorder = recorder
        self.flow = flow
        self.session_id = "ATUid_" + uuid.uuid4().hex
        self.typed: list[str] = []
        self.last_kind = ""

    def dial(self) -> str:
        """The first hop. A session of this phone cut off mid-flow (a hop that was answered
        but whose answer never arrived) is offered for resuming: `2`, the main menu."""
        reply = self._send()
        if self.ok() and any(text in reply for text in RESUME_OFFER):
            with self.recorder.lock:
                self.recorder.resume_offers += 1
            time.sleep(THINK_SECONDS)
            reply = self.send("2")
        return reply

    def send(self, answer: str) -> str:
        self.typed.append(answer)
        return self._send()

    def walk(self, *answers: str) -> str:
        """Dial, then type `answers` at a person's pace; stops at a failed hop or an END."""
        reply = self.dial()
        for answer in answers:
            if not self.ok() or reply.startswith("END "):
                break
            time.sleep(THINK_SECONDS)
            reply = self.send(answer)
        return reply

    def ok(self) -> bool:
        """The last hop got a normal CON or END (a method: each hop changes it)."""
        return self.last_kind in ("con", "end")

    def _send(self) -> str:
        form = {
            "sessionId": self.session_id,
            "serviceCode": "*4242#",
            "phoneNumber": self.phone,
            "networkCode": "60401",
            "text": "*".join(self.typed),
        }
        body = urllib.parse.urlencode(form)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "at-ussd-api/1.0"}
        started = time.monotonic()
        status, text = 0, ""
        # One connection per hop, as the aggregator's callbacks come: no keep-alive to a worker.
        connection = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT)
        try:
            connection.request("POST", self.path, body=body, headers=headers)
            response = connection.getresponse()
            status, text = response.status, response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            status, text = 0, ""
        finally:
            connection.close()
        self.last_kind = classify(status, text)
        self.recorder.add(HopRecord(started, time.monotonic() - started, status, self.last_kind, self.flow))
        return text


@dataclass
class Payments:
    """What the callers saw of payments; checked against the database at the end."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    references: dict[str, str] = field(default_factory=dict)  # phone -> reference shown to the artisan
    confirmed: dict[str, str] = field(default_factory=dict)  # reference -> receipt the agent saw
    # References the agent found already paid on a retry: an earlier confirm hop went
    # through although its answer was lost or polite END (checked in the database too).
    paid_unseen: set[str] = field(default_factory=set)
    unexpected: list[str] = field(default_factory=list)  # screens no flow expects (reported)
    abandoned: list[str] = field(default_factory=list)  # references the agent gave up confirming
    redials: int = 0


class Load:
    def __init__(self, base_url: str, *, status_threads: int = 3, payment_threads: int = 2, pool_start: int = 0):
        self.base_url = base_url
        self.recorder = Recorder()
        self.payments = Payments()
        self.stopping = threading.Event()
        self.stopped_at = float("inf")
        self._pool = itertools.count(pool_start)
        self._pool_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._status_loop, args=(n,), name=f"status-{n}", daemon=True)
            for n in range(status_threads)
        ] + [threading.Thread(target=self._payment_loop, name=f"pay-{n}", daemon=True) for n in range(payment_threads)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop dialing; an agent confirming a payment keeps at it a few seconds more."""
        self.stopped_at = time.monotonic()
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def call(self, phone: str, flow: str) -> Call:
        return Call(self.base_url, phone, self.recorder, flow)

    # Status sessions ------------------------------------------------------------------------

    def _status_loop(self, offset: int) -> None:
        sessions = itertools.cycle(STATUS_SESSIONS[offset % len(STATUS_SESSIONS) :] + STATUS_SESSIONS)
        while not self.stopping.is_set():
            phone, inputs = next(sessions)
            call = self.call(phone, "status")
            call.walk(*inputs)
            if not call.ok():
                time.sleep(REDIAL_SECONDS)

    # Payments -------------------------------------------------------------------------------

    def _next_phone(self) -> str:
        with self._pool_lock:
            return f"+212{POOL_PHONE_BASE + next(self._pool)}"

    def _payment_loop(self) -> None:
        while not self.stopping.is_set():
            phone = self._next_phone()
            reference = self._get_reference(phone)
            if reference is not None:
                self._confirm(reference)

    def _redial(self) -> None:
        with self.payments.lock:
            self.payments.redials += 1
        time.sleep(REDIAL_SECONDS)

    def _get_reference(self, phone: str) -> str | None:
        """dial, 2 pay, 1 all due, 1 Wafacash, 1 confirm -> the reference; redial on a failure."""
        while not self.stopping.is_set():
            call = self.call(phone, "pay")
            reply = call.walk("2", "1", "1", "1")
            if not call.ok():
                self._redial()
                continue
            found = REFERENCE.search(reply)
            if found is None:
                with self.payments.lock:
                    self.payments.unexpected.append(f"pay {phone}: {reply[:120]!r}")
                return None
            reference = "".join(found.groups())
            with self.payments.lock:
                self.payments.references[phone] = reference
            return reference
        return None

    def _confirm(self, reference: str) -> None:
        """The agent: dial, PIN, 1 confirm, the reference, 1 cash received. Keeps at it
        (a customer is at the counter) until it sees a receipt or the reference paid."""
        deadline = time.monotonic() + CONFIRM_PATIENCE
        while time.monotonic() < min(deadline, self.stopped_at + STOP_GRACE):
            call = self.call(AGENT_PHONE, "agent")
            reply = call.walk(AGENT_PIN, "1", reference)
            if not call.ok():
                self._redial()
                continue
            if not any(text in reply for text in CASH_RECEIVED):
                with self.payments.lock:
                    self.payments.paid_unseen.add(reference)  # refused: checked in the database
                return
            time.sleep(THINK_SECONDS)
            reply = call.send("1")
            if not call.ok():
                self._redial()
                continue
            receipt = RECEIPT.search(reply)
            if any(text in reply for text in RECORDED) and receipt is not None:
                with self.payments.lock:
                    self.payments.confirmed[reference] = receipt.group(1)
            else:
                with self.payments.lock:
                    self.payments.unexpected.append(f"confirm {reference}: {reply[:120]!r}")
            return
        with self.payments.lock:
            self.payments.abandoned.append(reference)


# Counting -----------------------------------------------------------------------------------


@dataclass
class HopCounts:
    hops: int
    kinds: dict[str, int]
    statuses: dict[int, int]
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


def count_hops(hops: list[HopRecord]) -> HopCounts:
    latencies = sorted(hop.seconds for hop in hops) or [0.0]
    return HopCounts(
        hops=len(hops),
        kinds=dict(Counter(hop.kind for hop in hops)),
        statuses=dict(Counter(hop.status for hop in hops)),
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(int(0.99 * len(latencies)), len(latencies) - 1)] * 1000,
        max_ms=latencies[-1] * 1000,
    )


@dataclass
class Outage:
    """What the callers saw while a dependency was down, and after it came back."""

    hops_down: int  # hops sent while it was down
    kinds_down: dict[str, int]
    max_down_ms: float  # the slowest answer to a hop sent while it was down
    max_degraded_ms: float  # the slowest polite END of the whole drill
    degraded_after: int  # hops sent after it returned that did not get a normal answer
    recovery_s: float  # from its return to the end of the last such answer (0: none)
    normal_after: int  # normal answers to hops sent after it returned


def outage(hops: list[HopRecord], down_at: float, up_at: float) -> Outage:
    during = [hop for hop in hops if down_at <= hop.started < up_at]
    after = [hop for hop in hops if hop.started >= up_at]
    degraded = [hop for hop in hops if not hop.normal]
    bad_after = [hop for hop in after if not hop.normal]
    return Outage(
        hops_down=len(during),
        kinds_down=dict(Counter(hop.kind for hop in during)),
        max_down_ms=max((hop.seconds for hop in during), default=0.0) * 1000,
        max_degraded_ms=max((hop.seconds for hop in degraded), default=0.0) * 1000,
        degraded_after=len(bad_after),
        recovery_s=max((hop.ended - up_at for hop in bad_after), default=0.0),
        normal_after=sum(1 for hop in after if hop.normal),
    )


def wait_for_service(recorder: Recorder, since: float, *, quiet: float, limit: float) -> None:
    """Wait after a dependency returned until `quiet` seconds of only normal answers have
    gone by (at least a few hops in them), or `limit` seconds in all."""
    deadline = since + limit
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = time.monotonic()
        recent = [hop for hop in recorder.snapshot() if hop.started >= max(since, now - quiet)]
        if now - since >= quiet and len(recent) >= 5 and all(hop.normal for hop in recent):
            bad = [hop for hop in recorder.snapshot() if hop.started >= since and not hop.normal]
            if not bad or max(hop.ended for hop in bad) <= now - quiet:
                return
