# SPDX-License-Identifier: MIT
"""Bounded body reading, shared by both HTTP backends.

The size cap applies to the *decoded* body, and compressed bodies are
inflated chunk by chunk with a bound on the output of each step, so a gzip
bomb is refused without being inflated. A non-2xx body is only read for the
error's excerpt: it is cut at `ERROR_BODY_LIMIT` and never fails.
"""

from __future__ import annotations

import zlib

import attrs

from .._exceptions import APIConnectionError, HiobuyError, ResponseValidationError

__all__ = ["ACCEPT_ENCODING", "ERROR_BODY_LIMIT", "BoundedBody", "RawResponse", "cap_whole_body"]

ERROR_BODY_LIMIT = 64 * 1024
"""How much of a non-2xx body is read, for the error's excerpt."""

ACCEPT_ENCODING = "gzip, deflate"
"""The encodings `BoundedBody` can inflate; sent as `Accept-Encoding`."""


@attrs.frozen
class RawResponse:
    """What the transport hands back: status, the few headers used, and the body."""

    status_code: int
    body: bytes
    request_id: str | None
    retry_after: str | None
    elapsed: float
    headers: tuple[tuple[str, str], ...] = ()


class _BoundedDecoder:
    """Inflate gzip/deflate chunk by chunk, never producing more than the cap."""

    def __init__(self, encoding: str) -> None:
        self._raw_deflate_fallback = encoding == "deflate"
        self._decompressor = zlib.decompressobj(
            zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS
        )
        self._started = False

    def feed(self, chunk: bytes, room: int) -> bytes:
        # max_length bounds the output of this one call: at most `room` bytes
        # are ever inflated beyond what the caller already accepted.
        if not chunk:
            return b""
        try:
            out = self._decompressor.decompress(chunk, room)
        except zlib.error:
            if self._raw_deflate_fallback and not self._started:
                # "deflate" is sometimes sent without the zlib wrapper.
                self._raw_deflate_fallback = False
                self._decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.feed(chunk, room)
            raise
        self._started = True
        return out

    @property
    def started(self) -> bool:
        """True once some compressed input has been taken."""
        return self._started

    @property
    def ended(self) -> bool:
        """True once the compressed stream has ended, trailer (checksum) included."""
        return self._decompressor.eof

    @property
    def has_trailing_data(self) -> bool:
        """True if bytes arrived after the end of the compressed stream."""
        return bool(self._decompressor.unused_data)


def _too_large(limit: int, request_id: str | None) -> HiobuyError:
    return ResponseValidationError(
        f"response body exceeds the {limit} byte limit (max_response_bytes)",
        request_id=request_id,
    )


def cap_whole_body(body: bytes, *, strict: bool, max_bytes: int, request_id: str | None) -> bytes:
    """Apply the cap to a body that arrived already read and decoded.

    Args:
        body: The decoded body.
        strict: True for a 2xx body (over the cap fails), False for an error
            body (cut at `ERROR_BODY_LIMIT`).
        max_bytes: The cap on a 2xx body.
        request_id: The response's request id, for the error.

    Returns:
        The body, cut for a non-2xx response.

    Raises:
        ResponseValidationError: A 2xx body exceeds the cap.
    """
    limit = max_bytes if strict else ERROR_BODY_LIMIT
    if len(body) > limit:
        if not strict:
            return body[:limit]
        raise _too_large(limit, request_id)
    return body


class BoundedBody:
    """Collect a response body chunk by chunk, decoded, within a size cap.

    A 2xx body (`strict`) that exceeds `max_bytes` or is badly encoded raises
    `ResponseValidationError`; any other body is cut at `ERROR_BODY_LIMIT`, or
    left empty if it cannot be decoded, and never raises.

    Args:
        encoding: The `Content-Encoding` header, if any.
        content_length: The `Content-Length` header, if any.
        strict: True for a 2xx response.
        max_bytes: The cap on a decoded 2xx body.
        request_id: The response's request id, for errors.

    Raises:
        ResponseValidationError: (strict only) the encoding is unsupported, or
            the declared length of an uncompressed body exceeds the cap.
    """

    __slots__ = ("_decoder", "_limit", "_parts", "_request_id", "_size", "_strict", "done")

    def __init__(
        self,
        *,
        encoding: str | None,
        content_length: str | None,
        strict: bool,
        max_bytes: int,
        request_id: str | None,
    ) -> None:
        self._strict = strict
        self._limit = limit = max_bytes if strict else ERROR_BODY_LIMIT
        self._request_id = request_id
        self._parts: list[bytes] = []
        self._size = 0
        self._decoder: _BoundedDecoder | None = None
        self.done = False
        """True once no more chunks are wanted (the body is complete as far as it goes)."""
        coding = "identity" if encoding is None else encoding.strip().lower()
        if coding in ("gzip", "x-gzip", "deflate"):
            self._decoder = _BoundedDecoder("deflate" if coding == "deflate" else "gzip")
        elif coding not in ("", "identity"):
            if not strict:
                self.done = True
                return
            raise ResponseValidationError(
                f"response uses an unsupported content-encoding {coding[:40]!r}",
                request_id=request_id,
            )
        if (
            strict
            and self._decoder is None
            and content_length is not None
            and content_length.isdigit()
            and int(content_length) > limit
        ):
            raise _too_large(limit, request_id)

    def feed(self, received: bytes) -> None:
        """Take one chunk as received; sets `done` when reading should stop.

        Args:
            received: The chunk, still encoded.

        Raises:
            ResponseValidationError: (strict only) the decoded body exceeds the
                cap, or is not valid compressed data.
        """
        chunk = received
        decoder = self._decoder
        if decoder is not None:
            if decoder.ended:
                # Never given to zlib, which would keep it whole (unbounded).
                if received:
                    self._data_after_end()
                return
            try:
                chunk = decoder.feed(received, self._limit - self._size + 1)
            except zlib.error:
                if not self._strict:
                    self.done = True
                    return
                raise ResponseValidationError(
                    "response body is not valid compressed data", request_id=self._request_id
                ) from None
            if decoder.ended and decoder.has_trailing_data:
                self._data_after_end()
        self._size += len(chunk)
        if self._size > self._limit:
            if not self._strict:
                self._parts.append(chunk[: len(chunk) - (self._size - self._limit)])
                self.done = True
                return
            raise _too_large(self._limit, self._request_id)
        self._parts.append(chunk)

    def _data_after_end(self) -> None:
        # Reading goes on to the end of the HTTP body after the end of the
        # compressed stream (so the connection can be reused): anything found
        # there is refused in a 2xx body, and stops the reading of another.
        if self._strict:
            raise ResponseValidationError(
                "response body has data after the end of its compressed stream",
                request_id=self._request_id,
            )
        self.done = True

    def finish(self) -> bytes:
        """Return the whole body once the HTTP body has ended (or reading stopped at `done`).

        Returns:
            The decoded body.

        Raises:
            APIConnectionError: (strict only) a compressed body ended before the
                end of its stream, checksum trailer included: bytes were lost on
                the way, as when a connection is cut midway.
        """
        decoder = self._decoder
        if (
            self._strict
            and not self.done
            and decoder is not None
            and decoder.started
            and not decoder.ended
        ):
            raise APIConnectionError(
                "response body was cut: its compressed stream ended before its end "
                "(truncated, or missing its checksum trailer)",
                request_id=self._request_id,
            )
        return self.body()

    def body(self) -> bytes:
        """Return the decoded body collected so far.

        Returns:
            The body.
        """
        parts = self._parts
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)
