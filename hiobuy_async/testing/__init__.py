# SPDX-License-Identifier: MIT
"""A testing kit for code that uses hiobuy_async: a fake API, scripted faults, fast retries.

```python
from hiobuy_async.testing import FakeHiobuy, Fault, no_backoff

fake = FakeHiobuy()
fake.fail_next(1, Fault.status(503))
with no_backoff():
    async with fake.client() as client:  # in process, no sockets
        result = await client.image_search(fake.sample_images()[0], platform="1688")
assert len(fake.requests) == 2  # the 503, then the retry
```

`async with fake.serve() as base_url:` serves the same fake over real HTTP/1.1
on 127.0.0.1. For pytest fixtures, add
`pytest_plugins = ["hiobuy_async.testing.pytest_plugin"]` to your conftest.
"""

from __future__ import annotations

from ._backoff import no_backoff
from ._fake import FAKE_BASE_URL, FakeHiobuy, FakeStats
from ._faults import Fault
from ._records import HeaderMap, RecordedOrder, RecordedRequest
from ._routes import EndpointName
from ._transport import FakeTransport
from ._wire import FakeRequest, FakeResponse

__all__ = [
    "FAKE_BASE_URL",
    "EndpointName",
    "FakeHiobuy",
    "FakeRequest",
    "FakeResponse",
    "FakeStats",
    "FakeTransport",
    "Fault",
    "HeaderMap",
    "RecordedOrder",
    "RecordedRequest",
    "no_backoff",
]
