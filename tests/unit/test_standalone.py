"""The repository stands alone: nothing in it points outside it (a fresh clone has no
../shared), and every relative link of its Markdown reaches a file of its own."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {".git", ".venv", "instance", "node_modules"}
TEXT = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".html", ".js", ".css", ".lua", ".mako", ".example"}
OUTSIDE = re.compile(r"\.\./shared|\bDESIGN\.md|\bSTYLE\.md")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _files() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*")
        if path.is_file()
        and not SKIPPED & set(path.relative_to(ROOT).parts)
        and not any(part.startswith(".") and part != ".ci" for part in path.relative_to(ROOT).parts[:-1])
        and (path.suffix in TEXT or path.name in {"Makefile", "Procfile", "run", ".env.example"})
    ]


def test_nothing_points_outside_the_repository() -> None:
    files = _files()
    assert ROOT / "Makefile" in files and ROOT / "README.md" in files and ROOT / ".ci" / "run" in files
    this = Path(__file__).resolve()
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in files
        if path != this
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_markdown_links_reach_files_of_the_repository() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) >= 3  # the README, docs/product.md, docs/style.md
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_file() and ROOT in resolved.parents, f"{page.relative_to(ROOT)}: {target}"
