# SPDX-License-Identifier: MIT
"""The key guard: one idempotency key is sent to create-order at most once.

HioBuy has no server-side idempotency key and no order lookup, so the
guarantee comes from the client. `OrderGuard` remembers each key it has
seen (a bounded number of settled ones, every unsettled one):

- placed: the same key returns the stored `OrderSubmission`, without a request;
- unknown (the answer was lost): the same key raises
  `OrderOutcomeUnknownError` again, without a request, until
  `resolve(key, placed=...)` records what the merchant console shows;
- in flight: a second call with the key waits for the first and shares its
  outcome (one request); in flight in another process sharing the journal (or
  left there by a process that stopped mid-order): refused like an unknown one;
- rejected for certain (`ret != 1`, a 3xx or 4xx answer, never sent): the key is free again.

The same key with a different order (another fingerprint) is an
`InputError`. An optional `OrderJournal` (a SQLite file, written through
anyio worker threads so it works on trio) records the intent before the
request and the outcome after it: a process that crashed mid-order finds the
key unsettled after a restart and refuses to send it again. The journal
keeps hashes and outcomes, never an order's body or address.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypeVar

import anyio
import attrs

from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    ClientStateError,
    HiobuyError,
    InputError,
    OrderOutcomeUnknownError,
)
from ._models import OrderSubmission

logger = logging.getLogger("hiobuy_async")

__all__ = ["DEFAULT_MAX_KEYS", "OrderGuard", "OrderJournal", "new_key", "outcome_unknown"]

DEFAULT_MAX_KEYS = 10_000
"""How many placed orders' keys a client remembers (unsettled ones are all kept)."""

State = Literal["pending", "placed", "unknown"]
R = TypeVar("R")


def new_key() -> str:
    """Return a fresh idempotency key (a random UUID4, as text).

    Returns:
        The key.
    """
    return str(uuid.uuid4())


def _definitely_not_placed(error: BaseException) -> bool:
    """Whether a failed create-order call certainly placed no order."""
    if isinstance(error, OrderOutcomeUnknownError):
        return False
    if isinstance(error, InputError | APIError):
        return True  # refused before sending, or ret != 1: a definite rejection
    if isinstance(error, APIStatusError):
        return error.status_code < 500  # an answer refusing it (as the pipeline's rule)
    if isinstance(error, APIConnectionError):
        return getattr(error, "delivery", "maybe_delivered") == "not_sent"
    return False


def outcome_unknown(
    error: BaseException, *, idempotency_key: str, client_reference: str | None
) -> OrderOutcomeUnknownError:
    """Turn a failure that may have left an order placed into `OrderOutcomeUnknownError`.

    The pipeline raises it itself for a request that may not be repeated;
    this covers whatever else may come out of a call that reached the wire
    (a cancellation, a body that cannot be read after a 2xx).

    Args:
        error: What the call raised.
        idempotency_key: The order's key.
        client_reference: The caller's reference.

    Returns:
        The error to raise.
    """
    if isinstance(error, OrderOutcomeUnknownError):
        return error
    attempts = getattr(error, "attempts", None)
    unknown = OrderOutcomeUnknownError(
        f"the order may or may not have been placed ({type(error).__name__}): check the "
        "merchant console, then call resolve_order() with the key",
        idempotency_key=idempotency_key,
        client_reference=client_reference,
        request_id=getattr(error, "request_id", None),
        attempts=attempts if isinstance(attempts, int) else 1,
    )
    unknown.endpoint = "create_order"
    return unknown


def _refusal(key: str, client_reference: str | None, why: str) -> OrderOutcomeUnknownError:
    error = OrderOutcomeUnknownError(
        f"the order of this idempotency key may or may not have been placed ({why}); nothing "
        "was sent: check the merchant console, then call resolve_order(key, placed=...)",
        idempotency_key=key,
        client_reference=client_reference,
        attempts=0,
    )
    error.endpoint = "create_order"
    return error


@attrs.define
class _Entry:
    fingerprint: str
    state: State
    client_reference: str | None = None
    submission: OrderSubmission | None = None
    done: anyio.Event | None = None
    failure: HiobuyError | None = None  # what the calls that waited raise


@attrs.frozen
class _Row:
    fingerprint: str
    state: State
    client_reference: str | None
    request_id: str | None
    data: Mapping[str, Any]


class OrderJournal:
    """A durable record of order keys: a SQLite file, used through worker threads.

    Each write opens the file, commits and closes it (orders are rare; a
    crash loses nothing written). Every call runs in an anyio worker thread,
    so it works on asyncio and trio.

    Args:
        path: The SQLite file (created when missing).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._ready = False

    def __repr__(self) -> str:
        return "<OrderJournal>"

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30.0)
        if not self._ready:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS orders ("
                "key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL, "
                "client_reference TEXT, request_id TEXT, data TEXT, updated REAL NOT NULL)"
            )
            connection.commit()
            self._ready = True
        return connection

    def _load(self, key: str) -> _Row | None:
        connection = self._connect()
        try:
            row = connection.execute(
                "SELECT fingerprint, state, client_reference, request_id, data "
                "FROM orders WHERE key = ?",
                (key,),
            ).fetchone()
        finally:
            connection.close()
        if row is None:
            return None
        fingerprint, state, client_reference, request_id, data = row
        return _Row(fingerprint, state, client_reference, request_id, json.loads(data or "{}"))

    def _write(self, key: str, entry: _Entry | None) -> None:
        connection = self._connect()
        try:
            with connection:
                if entry is None:
                    connection.execute("DELETE FROM orders WHERE key = ?", (key,))
                    return
                submission = entry.submission
                connection.execute(
                    "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        entry.fingerprint,
                        entry.state,
                        entry.client_reference,
                        None if submission is None else submission.request_id,
                        None
                        if submission is None
                        else json.dumps(dict(submission.data), default=str),
                        time.time(),
                    ),
                )
        finally:
            connection.close()

    def _claim(self, key: str, entry: _Entry) -> _Row | None:
        connection = self._connect()
        try:
            with connection:
                connection.execute(
                    "INSERT INTO orders VALUES (?, ?, ?, ?, NULL, NULL, ?)",
                    (key, entry.fingerprint, entry.state, entry.client_reference, time.time()),
                )
        except sqlite3.IntegrityError:
            return self._load(key)
        finally:
            connection.close()
        return None

    async def claim(self, key: str, entry: _Entry) -> _Row | None:
        """Record the intent to send `key`, unless the journal holds the key already.

        One `INSERT`: of processes sharing the file, one claims a key.

        Args:
            key: The idempotency key.
            entry: The pending entry.

        Returns:
            `None` once claimed, or what the journal holds for the key.
        """
        return await self._run("written", self._claim, key, entry)

    async def _run(self, what: str, work: Callable[..., R], *args: Any) -> R:
        try:
            return await anyio.to_thread.run_sync(work, *args)
        except sqlite3.Error as exc:
            raise ClientStateError(f"the order journal cannot be {what}: {exc}") from None

    async def load(self, key: str) -> _Row | None:
        """Read what the journal knows of `key`.

        Args:
            key: The idempotency key.

        Returns:
            The row, or `None`.
        """
        return await self._run("read", self._load, key)

    async def write(self, key: str, entry: _Entry | None) -> None:
        """Record `entry` for `key` (or forget the key), durably, before returning.

        Args:
            key: The idempotency key.
            entry: The state to record, or `None` to forget the key.
        """
        await self._run("written", self._write, key, entry)


class OrderGuard:
    """Keeps each idempotency key from reaching create-order twice (see the module).

    Args:
        journal: The durable record, or `None` (memory only).
        max_keys: How many placed keys to remember.
    """

    def __init__(self, journal: OrderJournal | None, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self._journal = journal
        self._max_keys = max_keys
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __repr__(self) -> str:
        return f"<OrderGuard keys={len(self._entries)} journal={self._journal is not None}>"

    async def _entry(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None or self._journal is None:
            return entry
        row = await self._journal.load(key)
        entry = self._entries.get(key)  # another task may have started meanwhile
        if entry is not None or row is None:
            return entry
        return self._from_row(key, row)

    def _from_row(self, key: str, row: _Row) -> _Entry:
        submission = None
        if row.state == "placed":
            submission = OrderSubmission(
                idempotency_key=key,
                client_reference=row.client_reference,
                request_id=row.request_id,
                data=row.data,
            )
        # "pending": in flight in another process, or left by one that stopped
        # mid-order; either way it is not sent from here.
        entry = _Entry(row.fingerprint, row.state, row.client_reference, submission)
        if row.state == "placed":
            self._remember(key, entry)  # final; the others are read again each time
        return entry

    def _remember(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        if len(self._entries) <= self._max_keys:
            return
        for old in [k for k, e in self._entries.items() if e.state == "placed"]:
            if len(self._entries) <= self._max_keys:
                break
            del self._entries[old]

    async def _record(self, key: str, entry: _Entry | None, *, strict: bool = False) -> None:
        """Write what became of `key` to the journal (if any), even while cancelled.

        An outcome that cannot be written leaves the key's intent in the
        journal: after a restart the key is refused (the safe side), so it is
        only logged, unless `strict` (a resolution the caller asked for).
        """
        if self._journal is None:
            return
        with anyio.CancelScope(shield=True):
            try:
                await self._journal.write(key, entry)
            except ClientStateError as error:
                if strict:
                    raise
                logger.warning("%s; the key stays refused after a restart", error)

    async def submit(
        self,
        key: str,
        fingerprint: str,
        client_reference: str | None,
        send: Callable[[], Awaitable[OrderSubmission]],
    ) -> OrderSubmission:
        """Send an order under `key` unless the key settles it already.

        Args:
            key: The idempotency key.
            fingerprint: The order's hash (`create_order.fingerprint`).
            client_reference: The caller's reference.
            send: Sends the request once.

        Returns:
            The submission: new, or the one stored for the key.

        Raises:
            InputError: The key was used for a different order.
            OrderOutcomeUnknownError: The outcome of the key's order is
                unknown (now, or from before), and not yet resolved.
            HiobuyError: The order was rejected for certain; the key is free.
        """
        while True:
            entry = await self._entry(key)
            if entry is None:
                break
            if entry.state == "pending" and entry.done is not None:
                await entry.done.wait()  # in flight in this client: share its outcome
                if entry.failure is not None:
                    raise entry.failure
                continue
            return self._settled(key, entry, fingerprint)
        return await self._send(key, fingerprint, client_reference, send)

    def _settled(self, key: str, entry: _Entry, fingerprint: str) -> OrderSubmission:
        """What a key already known settles: its submission, or an error."""
        if entry.fingerprint != fingerprint:
            raise InputError(
                "this idempotency key was already used for a different order: use a new "
                "key for a new order"
            )
        if entry.state == "placed" and entry.submission is not None:
            self._entries.move_to_end(key)
            return entry.submission
        if entry.state == "unknown":
            raise _refusal(key, entry.client_reference, "its answer was lost")
        # Pending in the journal: in flight in another process sharing it, or
        # left by a process that stopped mid-order.
        raise _refusal(
            key, entry.client_reference, "another process sent it and has not recorded its outcome"
        )

    async def _send(
        self,
        key: str,
        fingerprint: str,
        client_reference: str | None,
        send: Callable[[], Awaitable[OrderSubmission]],
    ) -> OrderSubmission:
        done = anyio.Event()
        entry = _Entry(fingerprint, "pending", client_reference, done=done)
        self._remember(key, entry)
        try:
            # The intent, before anything is sent; in a shared journal, a claim.
            held = None if self._journal is None else await self._journal.claim(key, entry)
        except BaseException:
            del self._entries[key]
            done.set()
            raise
        if held is not None:  # another process holds the key
            del self._entries[key]
            known = self._from_row(key, held)
            done.set()
            return self._settled(key, known, fingerprint)
        try:
            submission = await send()
        except BaseException as error:
            if isinstance(error, HiobuyError) and _definitely_not_placed(error):
                entry.failure = error
                self._entries.pop(key, None)
                done.set()
                await self._record(key, None)
                raise
            entry.state = "unknown"
            if isinstance(error, Exception):
                entry.failure = outcome_unknown(
                    error, idempotency_key=key, client_reference=client_reference
                )
            done.set()
            await self._record(key, entry)
            if entry.failure is None or entry.failure is error:
                raise  # a cancellation (the key stays unknown), or the pipeline's own error
            if not isinstance(error, HiobuyError):
                entry.failure = None
                raise  # a bug: shown as it is; the key stays unknown all the same
            raise entry.failure from error
        entry.state = "placed"
        entry.submission = submission
        done.set()
        await self._record(key, entry)
        return submission

    async def resolve(
        self, key: str, *, placed: bool, data: Mapping[str, Any] | None = None
    ) -> None:
        """Settle a key whose outcome is unknown, from what the merchant console shows.

        Args:
            key: The idempotency key.
            placed: True if the order exists (the key then returns a
                submission holding `data`, without a request); False if it
                does not (the key may be sent again).
            data: What to keep as the submission's `data` when `placed`.

        Raises:
            InputError: The client knows no unsettled order under this key.
            ClientStateError: The key's order is still in flight.
        """
        entry = await self._entry(key)
        if entry is None or entry.state == "placed":
            raise InputError("no order with this idempotency key awaits resolution")
        if entry.state == "pending" and entry.done is not None:
            raise ClientStateError("the order of this idempotency key is still in flight")
        if placed:
            entry.state = "placed"
            entry.failure = None
            entry.submission = OrderSubmission(
                idempotency_key=key,
                client_reference=entry.client_reference,
                data=dict(data or {}),
            )
            self._remember(key, entry)
            await self._record(key, entry, strict=True)
        else:
            self._entries.pop(key, None)
            await self._record(key, None, strict=True)
