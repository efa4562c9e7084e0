"""Reading operators' CSV files line by line, with the line numbers people see."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any


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
