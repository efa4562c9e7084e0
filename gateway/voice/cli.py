"""`flask voice …`: the voice talent's script, their recordings, what is covered, and the
synthesis done ahead of calls."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import click
from flask.cli import AppGroup

from gateway.csv_records import defuse
from gateway.voice import speech, wav
from gateway.voice.audio import KEY_RE, write_atomically
from gateway.voice.service import VOICE_LANGUAGES
from gateway.wiring import prompt_audio

voice_cli = AppGroup("voice", help="The voice line's prompts: script, recordings, coverage, synthesis ahead.")
language_option = click.option(
    "--language", "-l", type=click.Choice(VOICE_LANGUAGES), required=True, help="A voice language code."
)
languages_option = click.option(
    "--language", "-l", "languages", type=click.Choice(VOICE_LANGUAGES), multiple=True,
    help="A voice language code (several allowed; default: every voice language).",
)  # fmt: skip


@voice_cli.command("script")
@language_option
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
def script(language: str, output: Path | None) -> None:
    """Every fixed prompt of LANGUAGE to record, as CSV: id, language, text, status
    (recorded | synthesised | missing). The recording of a prompt is the file <id>.wav."""
    audio = prompt_audio()
    out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(["id", "language", "text", "status"])
        for clip in speech.fixed_prompts(language):
            writer.writerow([clip.id, clip.language, defuse(clip.text), audio.source(clip)])
    finally:
        if output:
            out.close()


def _mapped(directory: Path, mapping: Path | None) -> list[tuple[str, Path]]:
    """(prompt id, file) of every recording to import: the CSV's rows (file, id), or each
    <id>.wav of the directory."""
    if mapping is None:
        return [(path.stem, path) for path in sorted(directory.glob("*.wav"))]
    with mapping.open(newline="", encoding="utf-8-sig") as rows:
        reader = csv.DictReader(rows)
        if not {"file", "id"} <= {name.strip().lower() for name in reader.fieldnames or ()}:
            raise click.ClickException(f"{mapping}: the header must have the columns file and id")
        return [
            ((row.get("id") or "").strip().lower(), directory / (row.get("file") or "").strip())
            for row in ({key.strip().lower(): value for key, value in row.items() if key} for row in reader)
        ]


@voice_cli.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@language_option
@click.option(
    "--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="CSV with the columns file and id, when the files are not named <id>.wav.",
)  # fmt: skip
def import_recordings(directory: Path, language: str, mapping: Path | None) -> None:
    """Take a voice talent's recordings of LANGUAGE from DIRECTORY: each is checked (16-bit
    PCM mono WAV at 8 or 16 kHz, 0.3-30 s, not silent, not clipped); the good ones replace
    the prompts' audio, each bad one is reported."""
    audio = prompt_audio()
    prompts = {clip.id: clip for clip in speech.fixed_prompts(language)}
    imported, refused = 0, 0
    for prompt_id, path in _mapped(directory, mapping):
        problems: list[str] = []
        if not KEY_RE.fullmatch(prompt_id):
            problems.append(f"{prompt_id!r} is no prompt id (16 hexadecimal digits)")
        elif prompt_id not in prompts:
            problems.append(f"{prompt_id} is no {language} prompt (flask voice script --language {language})")
        if not path.is_file():
            problems.append("no such file")
        if not problems:
            content = path.read_bytes()
            problems = wav.recording_problems(content)
        if problems:
            refused += 1
            click.echo(f"refused {path.name}: {'; '.join(problems)}")
            continue
        write_atomically(audio.recording(prompts[prompt_id]), content)
        imported += 1
    click.echo(f"voice import {language}: {imported} imported, {refused} refused")
    if refused:
        raise SystemExit(1)


@voice_cli.command("coverage")
@languages_option
def coverage(languages: tuple[str, ...]) -> None:
    """Per language: prompts recorded, synthesised (and already cached), missing, and whether a call offers it."""
    audio = prompt_audio()
    click.echo(
        f"{'language':<9} {'prompts':>7} {'recorded':>8} {'synthesised':>11} {'cached':>6} {'missing':>7}  offered"
    )
    for language in languages or VOICE_LANGUAGES:
        c = audio.coverage(language)
        click.echo(
            f"{language:<9} {c.total:>7} {c.recorded:>8} {c.synthesised:>11} {c.cached:>6} {c.missing:>7}  "
            f"{'yes' if c.offered else 'no'}"
        )


@voice_cli.command("warm")
@languages_option
def warm(languages: tuple[str, ...]) -> None:
    """Synthesise ahead every fixed prompt not recorded, so that no call waits on TTS for it."""
    audio = prompt_audio()
    failed = False
    for language in languages or VOICE_LANGUAGES:
        if audio.voice(language) is None:
            click.echo(f"{language}: no {audio.synthesiser.name} voice (recordings only)")
            continue
        started = time.perf_counter()
        made, errors = audio.warm(language)
        click.echo(f"{language}: {made} synthesised in {time.perf_counter() - started:.1f} s, {len(errors)} failed")
        for error in errors:
            click.echo(f"  {error}")
        failed = failed or bool(errors)
    if failed:
        raise SystemExit(1)
