"""Operators' CSV files: records with the line numbers people see, rejects files, and
cells a spreadsheet will not run (the dashboard's exports, settlement files)."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
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


class FileRefused(ValueError):
    """A file that cannot be imported at all (as opposed to a bad row, which is rejected);
    `missing` names the columns its header lacks. Each import has its own subclass."""

    def __init__(self, message: str, *, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


def check_rejects_path(source: Path, rejects: Path, error: type[FileRefused]) -> None:
    """Refuse a rejects file that would overwrite the source or has no folder, before any
    row is imported (not at the first reject, after batches were written)."""
    if rejects.resolve() == source.resolve():
        raise error("the rejects file must not be the file being imported")
    if not rejects.parent.is_dir():
        raise error(f"no folder {rejects.parent} for the rejects file")


def read_header(
    reader: Iterator[list[str]], error: type[FileRefused], required: Sequence[str], *, one_of: Sequence[str] = ()
) -> list[str]:
    """The header row, refused when unreadable, empty, with a column twice, or without
    every `required` column (and one of `one_of`, when given)."""
    try:
        header: list[str] | None = next(reader, None)
    except (UnicodeDecodeError, csv.Error) as err:
        raise error(f"line 1: unreadable header ({err})") from err
    if not header or not any(cell.strip() for cell in header):
        raise error("the file is empty: a header row is expected on line 1")
    names = [name.strip().lower() for name in header]
    duplicated = sorted({name for name in names if name and names.count(name) > 1})
    if duplicated:
        raise error(f"duplicated columns in the header: {', '.join(duplicated)}")
    missing = [name for name in required if name not in names]
    if one_of and not any(name in names for name in one_of):
        missing.append(" or ".join(one_of))
    if missing:
        raise error(f"missing columns in the header: {', '.join(missing)}", missing=tuple(missing))
    return header


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
