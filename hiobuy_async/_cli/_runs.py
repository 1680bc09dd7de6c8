# SPDX-License-Identifier: MIT
"""Input files and resumable outputs: which lines are done, and from which run.

An output written with `--output` holds nothing but result records, one a
line. What it was made from (the command, the input's path, size and
SHA-256, the options that change results) is kept beside it, in a run file
(`PATH.run.json`). `--resume` reads that back and refuses to continue a file
made from another input or with other options, so one file never mixes two
runs; a refused file is left byte for byte as it was. An input that only
grew at its end (lines appended) is the same run continued: every earlier
line keeps its number.

Nothing here holds a run's inputs or results in memory: inputs are read line
by line (stdin is spooled to a temporary file), and a resumed output is
indexed by line number only (4 bytes per input line).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zlib
from array import array
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from typing import IO, Any

import attrs

from ._args import CliError, ExitCode

__all__ = [
    "HEADER_KEY",
    "InputFile",
    "OutputIndex",
    "check_resumable",
    "index_output",
    "parse_inputs",
    "read_inputs",
    "read_run",
    "repair_output",
    "run_file",
    "run_header",
    "write_run",
]

HEADER_KEY = "hiobuy_async_run"
"""The key that marks a run description; its value is the format's version."""
HEADER_VERSION = 1
_CHUNK = 1 << 20


class InputFile:
    """The inputs of a batch command, read line by line from a seekable file.

    Args:
        path: The path as given, or `"-"` for stdin.
        source: The bytes, a seekable binary file (closed by `close()`).

    Raises:
        CliError: The bytes are not UTF-8 text.

    Attributes:
        path: The path as given, or `"-"` for stdin.
        count: The inputs (lines that are neither blank nor comments).
        last_line: The number of the last line holding an input (0 without any).
        size: The input's size in bytes.
        sha256: The SHA-256 of its bytes, in hex.
    """

    def __init__(self, path: str, source: IO[bytes]) -> None:
        self.path = path
        self._source = source
        digest = hashlib.sha256()
        self.count = self.last_line = 0
        for number, _ in self._scan(digest):
            self.count += 1
            self.last_line = number
        self.size = source.tell()
        self.sha256 = digest.hexdigest()

    def _scan(self, digest: Any = None) -> Iterator[tuple[int, str]]:
        # Split on b"\n" only: str.splitlines() also breaks on \x0b, \x1c or
        # U+2028, which would shift the numbers away from what sed or an editor shows.
        self._source.seek(0)
        offset = 0
        for number, raw in enumerate(self._source, 1):
            if digest is not None:
                digest.update(raw)
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                shown = "stdin" if self.path == "-" else self.path
                raise CliError(
                    f"{shown}: not UTF-8 text ({exc.reason} at byte {offset + exc.start})"
                ) from None
            offset += len(raw)
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                yield number, stripped

    def lines(self) -> Iterator[tuple[int, str]]:
        """Read the inputs again, from the start.

        Yields:
            `(line number, text)` of every input: numbers from 1, counting
            blank and comment lines too (as `sed -n` does).
        """
        yield from self._scan()

    def continues(self, size: int, sha256: str) -> bool:
        """Tell whether this input is one of `size` bytes with lines appended.

        Args:
            size: The earlier input's size.
            sha256: The earlier input's SHA-256.

        Returns:
            True when its first `size` bytes are that input and appending
            did not lengthen its last line.
        """
        if size > self.size:
            return False
        self._source.seek(0)
        digest = hashlib.sha256()
        left = size
        while left:
            chunk = self._source.read(min(left, _CHUNK))
            if not chunk:
                return False
            digest.update(chunk)
            left -= len(chunk)
        if digest.hexdigest() != sha256:
            return False
        if size in (0, self.size):
            return True
        self._source.seek(size - 1)
        return b"\n" in self._source.read(2)

    def close(self) -> None:
        """Close the file the inputs are read from."""
        self._source.close()


def read_inputs(path: str | None, stdin: IO[str]) -> InputFile:
    """Open the inputs: one a line, blank lines and `#` comments skipped.

    Args:
        path: The file, or `None` / `"-"` for stdin (spooled to a temporary file).
        stdin: The standard input stream.

    Returns:
        The inputs, with their fingerprint; `close()` them when done.

    Raises:
        CliError: The file cannot be read or is not UTF-8 text.
    """
    shown = "stdin" if path is None or path == "-" else path
    try:
        if path is None or path == "-":
            source: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - InputFile closes it
            buffer = getattr(stdin, "buffer", None)
            if buffer is not None:
                while chunk := buffer.read(_CHUNK):
                    source.write(chunk)
            else:
                while text := stdin.read(_CHUNK):
                    source.write(text.encode("utf-8", "surrogateescape"))
        else:
            source = open(path, "rb")  # noqa: SIM115 - InputFile closes it
    except OSError as exc:
        raise CliError(f"cannot read {shown}: {exc.strerror or exc}") from None
    try:
        return InputFile("-" if path is None else path, source)
    except BaseException:
        source.close()
        raise


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
    return InputFile(path, io.BytesIO(data))


def run_header(command: str, inputs: InputFile, options: Mapping[str, Any]) -> dict[str, Any]:
    """Describe a run: what its output is made from.

    Args:
        command: The sub-command (`"search-many"`, `"details-many"`).
        inputs: The input read.
        options: The options that change results (platform, language...).

    Returns:
        The run description, as the run file holds it.
    """
    path = inputs.path if inputs.path == "-" else os.path.abspath(inputs.path)
    return {
        HEADER_KEY: HEADER_VERSION,
        "command": command,
        "input": {"path": path, "size": inputs.size, "sha256": inputs.sha256},
        "options": dict(options),
    }


def run_file(output: str) -> str:
    """Name the run file of an output.

    Args:
        output: The `--output` path.

    Returns:
        The path of the file describing its run, beside it: `PATH.run.json`.
    """
    return f"{output}.run.json"


def write_run(output: str, header: Mapping[str, Any]) -> None:
    """Write the run file of an output, atomically (a reader sees the old one or the new one).

    Args:
        output: The `--output` path.
        header: The run description.

    Raises:
        CliError: It cannot be written (`ExitCode.OUTPUT`).
    """
    target = run_file(output)
    directory = os.path.dirname(os.path.abspath(target))
    temporary: str | None = None
    try:
        fd, temporary = tempfile.mkstemp(prefix=".hiobuy-run-", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(json.dumps(header, ensure_ascii=False) + "\n")
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        raise CliError(
            f"cannot write output: {exc.strerror or exc} ({target})", ExitCode.OUTPUT
        ) from None
    finally:
        if temporary is not None:
            with suppress(OSError):
                os.unlink(temporary)


def read_run(output: str) -> Mapping[str, Any] | None:
    """Read what an output was made from: its run file, or an older output's header line.

    Args:
        output: The `--output` path.

    Returns:
        The run description, or `None` when there is none.

    Raises:
        CliError: The run file exists but cannot be read.
    """
    path = run_file(output)
    try:
        with open(path, "rb") as file:
            data = file.read(_CHUNK)
    except FileNotFoundError:
        # Outputs of hiobuy-async 0.1 started with the description instead.
        try:
            with open(output, "rb") as file:
                data = file.readline(_CHUNK)
        except OSError:
            return None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        header = json.loads(data)
    except ValueError:
        return None
    return header if isinstance(header, dict) and HEADER_KEY in header else None


OK = 1
"""The status of a line whose last record succeeded."""
RETRYABLE = 2
"""The status of a line whose last record is a failure a retry may fix."""
PERMANENT = 3
"""The status of a line whose last record is a failure a retry would repeat."""

_RETRYABLE_TYPES = frozenset(
    {
        "APIConnectionError",
        "APITimeoutError",
        "RateLimitError",
        "QuotaExhaustedError",
        "ServerError",
        "ResponseValidationError",
    }
)


def _status(record: Mapping[str, Any]) -> int:
    if record.get("ok") is True:
        return OK
    error = record.get("error")
    if not isinstance(error, Mapping):
        return RETRYABLE
    retryable = error.get("retryable")
    if not isinstance(retryable, bool):  # written by hiobuy-async 0.1: told by the type
        retryable = error.get("type") in _RETRYABLE_TYPES
    return RETRYABLE if retryable else PERMANENT


def _fingerprint(text: str) -> int:
    # 30 bits of the text's CRC-32, the 2 low bits left for the status.
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) & ~3 & 0xFFFFFFFF


@attrs.define
class OutputIndex:
    """What an earlier run left in an output: per input line, the fate of its last record.

    Held as one 32-bit word per line number (a fingerprint of the input's
    text and a status), never the records themselves.

    Attributes:
        complete: The bytes of the output up to its last complete line.
        size: The output's size in bytes (more than `complete` when its last
            line was cut in half).
    """

    complete: int
    size: int
    _words: array[int] = attrs.field(repr=False)

    def status(self, line: int, text: str) -> int:
        """Tell the fate of the last record of an input line.

        Args:
            line: The input's line number.
            text: The input's text (a record of another text does not count).

        Returns:
            0 (no record of this input), `OK`, `RETRYABLE` or `PERMANENT`.
        """
        if not 0 < line < len(self._words):
            return 0
        word = self._words[line]
        return word & 3 if word and word & ~3 == _fingerprint(text) else 0


def index_output(path: str, key: str, *, last_line: int) -> OutputIndex | None:
    """Index an output file by input line number, for `--resume`.

    Lines that are not records, and records of line numbers past
    `last_line`, are ignored; a last line without its newline (the run was
    killed mid-write) is left out of the index (`repair_output` cuts it off).

    Args:
        path: The output file; it may not exist yet.
        key: The field holding the input's text (`"img"`, `"product"`).
        last_line: The highest line number the input has.

    Returns:
        The index, or `None` when the file is missing or empty.

    Raises:
        CliError: The file exists but cannot be read.
    """
    words = array("I", [0]) * (last_line + 1)
    complete = 0
    try:
        with open(path, "rb") as file:
            for raw in file:
                if not raw.endswith(b"\n"):
                    size = complete + len(raw)
                    break
                complete += len(raw)
                _index_line(raw, key, words)
            else:
                size = complete
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size == 0:
        return None
    return OutputIndex(complete, size, words)


def _index_line(raw: bytes, key: str, words: array[int]) -> None:
    try:
        record = json.loads(raw)
    except ValueError:
        return
    if not isinstance(record, dict):
        return
    line, text = record.get("line"), record.get(key)
    if (
        isinstance(line, int)
        and not isinstance(line, bool)
        and 0 < line < len(words)
        and isinstance(text, str)
    ):
        words[line] = _fingerprint(text) | _status(record)


def repair_output(path: str, index: OutputIndex) -> None:
    """Cut a half-written last line off an output accepted for resuming.

    Args:
        path: The output file.
        index: Its index.

    Raises:
        CliError: The file cannot be truncated.
    """
    if index.complete < index.size:
        try:
            os.truncate(path, index.complete)
        except OSError as exc:
            raise CliError(f"cannot repair {path}: {exc.strerror or exc}") from None


def _shown(value: object) -> str:
    return "none" if value is None else json.dumps(value, ensure_ascii=False)


def _input_mismatch(recorded: Mapping[str, Any], inputs: InputFile) -> str | None:
    size, digest = recorded.get("size"), recorded.get("sha256")
    if not isinstance(size, int) or not isinstance(digest, str):
        return "its run file does not describe its input"
    if size >= 0 and inputs.continues(size, digest):
        return None
    where = recorded.get("path", "?")
    return (
        f"it was made from another input ({where}, {size} bytes; now {inputs.size} bytes): "
        "lines were inserted, removed or changed, so its line numbers no longer match"
    )


def check_resumable(
    old: Mapping[str, Any] | None,
    header: Mapping[str, Any],
    inputs: InputFile,
    *,
    path: str,
) -> None:
    """Refuse to resume an output made by another run.

    Args:
        old: What the output was made from (`read_run`), or `None`.
        header: The description of this run.
        inputs: This run's input.
        path: The output file, for the message.

    Raises:
        CliError: The output does not come from this input and these options.
    """
    reason: str | None
    if old is None:
        reason = (
            f"it has no run file ({os.path.basename(run_file(path))}) saying which input "
            "and options it was made from"
        )
    elif old.get(HEADER_KEY) != HEADER_VERSION:
        reason = f"its run file is of an unknown version {_shown(old.get(HEADER_KEY))}"
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
        return "its run file does not list its options"
    changed: Sequence[str] = [
        f"--{name.replace('_', '-')} was {_shown(recorded.get(name))}, now {_shown(value)}"
        for name, value in wanted.items()
        if recorded.get(name) != value
    ]
    return "; ".join(changed) or None
