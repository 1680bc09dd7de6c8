# SPDX-License-Identifier: MIT
"""Cache keys: the merchant's namespace, the endpoint and the canonical request.

A key is `v{schema}:{namespace}:{endpoint}:{digest}`, where the namespace is a
keyed hash (HMAC-SHA256) of the base URL and the uuid, and the digest a
SHA-256 of the request exactly as it is sent: method, path, JSON body or query
(in the order sent), `Language` and `Currency` headers. So two merchants, two
locales or two currencies never share an entry, an entry written by another
schema version is never read, and neither the uuid nor the request can be read
back from a key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from ._record import SCHEMA_VERSION

__all__ = ["cache_key", "merchant_namespace"]

_NAMESPACE_KEY = b"hiobuy_async response cache: merchant namespace"


def merchant_namespace(uuid: str, base_url: str) -> str:
    """The namespace of one merchant on one server: 32 hex digits that do not reveal the uuid.

    Args:
        uuid: The merchant's uuid (the credential).
        base_url: The API's base URL.

    Returns:
        The namespace.
    """
    message = f"{base_url.rstrip('/')}\n{uuid}".encode()
    return hmac.new(_NAMESPACE_KEY, message, hashlib.sha256).hexdigest()[:32]


def cache_key(
    *,
    namespace: str,
    endpoint: str,
    method: str,
    path: str,
    json_body: Mapping[str, Any] | None = None,
    params: Mapping[str, str] | None = None,
    language: str | None = None,
    currency: str | None = None,
) -> str:
    """The key of one request.

    Args:
        namespace: The merchant's namespace (`merchant_namespace`).
        endpoint: The endpoint's name.
        method: The HTTP method.
        path: The path under the base URL.
        json_body: The JSON body, as sent.
        params: The query, as sent.
        language: The `Language` header, if sent.
        currency: The `Currency` header, if sent.

    Returns:
        The key.
    """
    canonical = json.dumps(
        [
            SCHEMA_VERSION,
            endpoint,
            method,
            path,
            json_body,
            list(params.items()) if params is not None else None,
            language,
            currency,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"v{SCHEMA_VERSION}:{namespace}:{endpoint}:{digest}"
