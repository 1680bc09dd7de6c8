# SPDX-License-Identifier: MIT
"""Input files and resumable outputs: which lines are done, and from which run.

An output written with `--output` starts with a header line naming the
command, the input (path, size, SHA-256) and the options that change
results. `--resume` reads it back and refuses to continue a file made from
another input or with other options, so one file never mixes two runs. An
input that only grew at its end (lines appended) is the same run continued:
every earlier line keeps its number.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import IO, Any

import attrs

from ._args import CliError

__all__ = [
    "HEADER_KEY",
    "InputFile",
    "Previous",
    "check_resumable",
    "load_previous",
    "parse_inputs",
    "read_inputs",
    "run_header",
]

HEADER_KEY = "hiobuy_async_run"
"""The key that marks an output's header line; its value is the format's version."""
HEADER_VERSION = 1


@attrs.frozen
class InputFile:
    """The inputs of a batch command, read whole.

    Attributes:
        path: The path as given, or `"-"` for stdin.
        lines: `(line number, text)` of every input: numbers from 1, counting
            blank and comment lines too (as `sed -n` does).
        size: The input's size in bytes.
        sha256: The SHA-256 of its bytes, in hex.
        data: Its bytes.
    """

    path: str
    lines: tuple[tuple[int, str], ...]
    size: int
    sha256: str
    data: bytes = attrs.field(repr=False)


def _parse_lines(text: str) -> tuple[tuple[int, str], ...]:
    # Split on "\n" only: str.splitlines() also breaks on \x0b, \x1c or
    # U+2028, which would shift the numbers away from what sed or an editor shows.
    found = []
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            found.append((number, stripped))
    return tuple(found)


def _read_stdin(stdin: IO[str]) -> bytes:
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read()
        return data
    return stdin.read().encode("utf-8", "surrogateescape")


def read_inputs(path: str | None, stdin: IO[str]) -> InputFile:
    """Read the inputs: one a line, blank lines and `#` comments skipped.

    Args:
        path: The file, or `None` / `"-"` for stdin.
        stdin: The standard input stream.

    Returns:
        The inputs, with their line numbers and the file's fingerprint.

    Raises:
        CliError: The file cannot be read or is not UTF-8 text.
    """
    shown = "stdin" if path is None or path == "-" else path
    try:
        if path is None or path == "-":
            data = _read_stdin(stdin)
        else:
            with open(path, "rb") as file:
                data = file.read()
    except OSError as exc:
        raise CliError(f"cannot read {shown}: {exc.strerror or exc}") from None
    return parse_inputs("-" if path is None else path, data)


def parse_inputs(path: str, data: bytes) -> InputFile:
    """Read inputs from the bytes of a file.

    Args:
        path: Where they come from (`"-"` for stdin).
        data: The bytes.

    Returns:
        The inputs, with their line numbers and fingerprint.

    Raises:
        CliError: The bytes are not UTF-8 text.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        shown = "stdin" if path == "-" else path
        raise CliError(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return InputFile(
        path=path,
        lines=_parse_lines(text),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )


def run_header(command: str, inputs: InputFile, options: Mapping[str, Any]) -> dict[str, Any]:
    """Build the first line of an output file: what it was made from.

    Args:
        command: The sub-command (`"search-many"`, `"details-many"`).
        inputs: The input read.
        options: The options that change results (platform, language...).

    Returns:
        The header record.
    """
    path = inputs.path if inputs.path == "-" else os.path.abspath(inputs.path)
    return {
        HEADER_KEY: HEADER_VERSION,
        "command": command,
        "input": {"path": path, "size": inputs.size, "sha256": inputs.sha256},
        "options": dict(options),
    }


@attrs.frozen
class Previous:
    """What an earlier run left in an output file.

    Attributes:
        header: Its header line, or `None` when it has none.
        last: The last record written for each input line number.
    """

    header: Mapping[str, Any] | None
    last: Mapping[int, Mapping[str, Any]]


def load_previous(path: str) -> Previous | None:
    """Read an output file back, for `--resume`.

    A last line without its newline (the run was killed mid-write) is cut
    off the file, so that input is done again and the file stays valid
    JSONL. Lines that are not records are ignored.

    Args:
        path: The output file; it may not exist yet.

    Returns:
        What it holds, or `None` when it is missing or empty.

    Raises:
        CliError: The file exists but cannot be read or repaired.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    complete = data.rfind(b"\n") + 1
    if complete < len(data):
        try:
            os.truncate(path, complete)
        except OSError as exc:
            raise CliError(f"cannot repair {path}: {exc.strerror or exc}") from None
    if complete == 0:
        return None
    header: Mapping[str, Any] | None = None
    last: dict[int, Mapping[str, Any]] = {}
    for number, line in enumerate(data[:complete].splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if number == 0 and HEADER_KEY in record:
            header = record
            continue
        line_number = record.get("line")
        if isinstance(line_number, int) and not isinstance(line_number, bool):
            last[line_number] = record
    return Previous(header=header, last=last)


def _shown(value: object) -> str:
    return "none" if value is None else json.dumps(value, ensure_ascii=False)


def _input_mismatch(recorded: Mapping[str, Any], inputs: InputFile) -> str | None:
    size, digest = recorded.get("size"), recorded.get("sha256")
    if not isinstance(size, int) or not isinstance(digest, str):
        return "its header does not describe its input"
    continued = (
        size <= inputs.size
        and hashlib.sha256(inputs.data[:size]).hexdigest() == digest
        # Appending must not have lengthened the old last line.
        and (size in (0, inputs.size) or inputs.data[size - 1 : size + 1].find(b"\n") >= 0)
    )
    if continued:
        return None
    where = recorded.get("path", "?")
    return (
        f"it was made from another input ({where}, {size} bytes; now {inputs.size} bytes): "
        "lines were inserted, removed or changed, so its line numbers no longer match"
    )


def check_resumable(
    previous: Previous,
    header: Mapping[str, Any],
    inputs: InputFile,
    *,
    path: str,
) -> None:
    """Refuse to resume an output made by another run.

    Args:
        previous: What the output holds.
        header: The header this run would write.
        inputs: This run's input.
        path: The output file, for the message.

    Raises:
        CliError: The output does not come from this input and these options.
    """
    old = previous.header
    reason: str | None
    if old is None:
        reason = "it has no header line saying which input and options it was made from"
    elif old.get(HEADER_KEY) != HEADER_VERSION:
        reason = f"its header is of an unknown version {_shown(old.get(HEADER_KEY))}"
    elif old.get("command") != header["command"]:
        reason = f"it was written by {_shown(old.get('command'))}, not {header['command']}"
    else:
        recorded = old.get("input")
        reason = _input_mismatch(recorded if isinstance(recorded, Mapping) else {}, inputs)
        if reason is None:
            reason = _options_mismatch(old.get("options"), header["options"])
    if reason is not None:
        raise CliError(
            f"cannot resume {path}: {reason}; resuming would mix two runs "
            "(--force resumes anyway, --overwrite starts again)"
        )


def _options_mismatch(recorded: object, wanted: Mapping[str, Any]) -> str | None:
    if not isinstance(recorded, Mapping):
        return "its header does not list its options"
    changed: Sequence[str] = [
        f"--{name.replace('_', '-')} was {_shown(recorded.get(name))}, now {_shown(value)}"
        for name, value in wanted.items()
        if recorded.get(name) != value
    ]
    return "; ".join(changed) or None
