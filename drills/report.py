"""A drill's result: what it did (with times), what it counted, and its targets."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    name: str
    ok: bool
    detail: str


@dataclass
class DrillResult:
    name: str
    started: float = field(default_factory=time.monotonic)
    did: list[str] = field(default_factory=list)
    counted: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    summary: dict[str, str] = field(default_factory=dict)  # the run's table: column -> value
    echo: bool = True

    @property
    def ok(self) -> bool:
        return bool(self.targets) and all(target.ok for target in self.targets)

    def step(self, text: str) -> None:
        line = f"[{time.monotonic() - self.started:6.2f}s] {text}"
        self.did.append(line)
        if self.echo:
            print(f"  {self.name}: {line}", flush=True)

    def count(self, text: str) -> None:
        self.counted.append(text)

    def target(self, name: str, ok: bool, detail: str) -> None:
        self.targets.append(Target(name, ok, detail))

    def report(self) -> str:
        lines = [f"== drill {self.name}: {'PASS' if self.ok else 'FAIL'}", "did:"]
        lines += [f"  {line}" for line in self.did]
        lines += ["counted:"] + [f"  {line}" for line in self.counted]
        lines += ["targets:"] + [
            f"  [{'ok' if target.ok else 'MISSED'}] {target.name}: {target.detail}" for target in self.targets
        ]
        return "\n".join(lines)

    def print(self) -> None:
        print(self.report(), file=sys.stdout, flush=True)
