"""Errors and retries: what each failure looks like to your code."""

import anyio

from hiobuy_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncHiobuy,
    HiobuyError,
    ImageSearchResult,
    RateLimitError,
    ServerError,
)
from hiobuy_async.testing import FakeHiobuy, Fault, no_backoff  # only for the fake server below

IMG = "https://cbu01.alicdn.com/img/ibank/O1CN01example.jpg"


async def search(client: AsyncHiobuy) -> ImageSearchResult | None:
    """Search one image; report the failures that retries could not fix."""
    try:
        return await client.image_search(IMG, platform="1688")
    except RateLimitError as error:  # 429 after retries, or Retry-After > max_retry_after
        print("  rate limited; the server asked to wait", error.retry_after, "s")
    except ServerError as error:  # 5xx after retries
        print("  server error", error.status_code, "request id", error.request_id)
    except APIError as error:  # HTTP 200 but ret != 1: never retried
        print("  the API refused the search: ret", error.ret, "msg", error.msg)
    except APITimeoutError as error:  # timeouts after retries, or the deadline ran out
        print("  timed out:", error.message)
    except APIConnectionError as error:  # refused or reset connections after retries
        print("  connection failed:", error.message)
    except HiobuyError as error:  # the rest, e.g. ResponseValidationError
        print("  failed:", error)
    return None


# --- Only for this example: a local fake HioBuy scripts the failures. ---
async def main() -> None:
    fake = FakeHiobuy()
    scenarios = [
        ("one 503, then success: retried", 1, Fault.status(503)),
        ("three 503s: more than max_retries=2", 3, Fault.status(503)),
        ("ret=0: never retried", 1, Fault.api_error(ret=0, msg="image cannot be fetched")),
        ("every attempt stalls past the timeout", 3, Fault.stall(1.0)),
        # Last: from then on the client's quota is exhausted for 120 s, and
        # every call fails at once (QuotaExhaustedError) without a request.
        ("Retry-After: 120 > max_retry_after: no wait", 1, Fault.rate_limit(retry_after=120)),
        ("a call after that: no request", 0, None),
    ]
    with no_backoff():  # skip backoff waits so the example runs instantly
        async with (
            fake.serve() as base_url,
            AsyncHiobuy(
                FakeHiobuy.DEFAULT_UUID,
                base_url=base_url,
                max_retries=2,  # up to 3 attempts per call (the default)
                timeout=0.2,  # seconds per attempt
                max_retry_after=30.0,  # a longer Retry-After raises instead of sleeping
            ) as client,
        ):
            for title, count, fault in scenarios:
                if fault is not None:
                    fake.fail_next(count, fault)
                sent_before = len(fake.requests)
                print(f"{title}:")
                result = await search(client)
                attempts = len(fake.requests) - sent_before
                print(f"  attempts: {attempts}, products: {len(result.items) if result else 0}")


if __name__ == "__main__":
    anyio.run(main)
