# SPDX-License-Identifier: MIT
"""Client-wide request quotas: pacing, a shared `429` pause, and exhaustion.

A client consults its [`Quota`][hiobuy_async.quota.Quota] before every
request it sends. [`LocalQuota`][hiobuy_async.quota.LocalQuota] holds it in
one process; [`RedisQuota`][hiobuy_async.quota.RedisQuota] (extra
`hiobuy-async[redis]`) shares one quota between processes and machines.
See the [Quotas](../quota.md) guide.
"""

from __future__ import annotations

from ._local import LocalQuota
from ._protocol import Quota
from ._redis import RedisQuota

__all__ = ["LocalQuota", "Quota", "RedisQuota"]
