# SPDX-License-Identifier: MIT
"""What every command starts from: the standard streams, the uuid, the embedded fake.

Shared by the batch and read commands (`_commands`) and the order commands
(`_orders`), which import it rather than each other.
"""

from __future__ import annotations

import argparse
import os
from typing import IO, TYPE_CHECKING

import attrs

from ._args import CliError

if TYPE_CHECKING:
    from ..testing import FakeHiobuy

__all__ = ["Streams", "_check_credentials", "_make_fake"]


@attrs.frozen
class Streams:
    """The standard streams, injectable for tests.

    Attributes:
        stdin: Standard input.
        stdout: Standard output.
        stderr: Standard error.
    """

    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]


def _make_fake(uuid: str | None = None) -> FakeHiobuy:
    # Imported only for --demo and fake-server: plain searches never load it.
    from ..testing import FakeHiobuy  # noqa: PLC0415

    return FakeHiobuy() if uuid is None else FakeHiobuy(uuids=(uuid,))


def _check_credentials(args: argparse.Namespace) -> str | None:
    """Return the uuid to use (`None` for `--demo`), before any file is touched."""
    if args.demo:
        if args.uuid or args.base_url:
            raise CliError("--demo uses the embedded fake server: drop --uuid and --base-url")
        return None
    uuid: str | None = args.uuid or os.environ.get("HIOBUY_UUID")
    if not uuid:
        raise CliError("no uuid: set HIOBUY_UUID or pass --uuid (or try --demo, which needs none)")
    return uuid
