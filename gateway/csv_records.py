"""Operators' CSV files: records with the line numbers people see, rejects files, and
cells a spreadsheet will not run (the dashboard's exports, settlement files)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

# What a spreadsheet reads as the start of a formula (tab and CR too: some programs
# strip them and then read what follows).
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def defuse(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula is shown as text instead."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def csv_records(reader: Any, error: type[ValueError]) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, its cells) for each non-blank record of `reader`.

    A file that is not UTF-8 or not CSV raises `error` naming the line, so an import can
    say where its file went wrong."""
    last_line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as err:
            raise error(f"near line {last_line + 1}: the file is not UTF-8 ({err.reason})") from err
        except csv.Error as err:
            raise error(f"line {last_line + 1}: {err}") from err
        start, last_line = last_line + 1, reader.line_num
        if any(cell.strip() for cell in cells):
            yield start, cells


class RejectsFile:
    """The rejects CSV of an import: the source columns plus `line` and `reason`.

    Opened on the first reject only; a rejects file left by an earlier run is removed
    when this run has none, so it never misleads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: list[str] = []
        self.count = 0
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def __enter__(self) -> RejectsFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()
        elif kind is None:
            self.path.unlink(missing_ok=True)

    def write(self, line: int, cells: list[str], reason: str) -> None:
        if self._writer is None:
            # With a BOM, spreadsheet programs read Arabic text as UTF-8.
            self._handle = self.path.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow([*self.header, "line", "reason"])
        width = len(self.header)
        self._writer.writerow([*(cells + [""] * width)[:width], line, reason])
        self.count += 1
