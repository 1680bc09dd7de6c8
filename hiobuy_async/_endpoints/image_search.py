# SPDX-License-Identifier: MIT
"""Image search: `POST /api/client/third-purchase/image/query`, products like an image."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._convert import parse_envelope, to_optional_str
from .._exceptions import InputError, ResponseValidationError, sanitise_excerpt
from .._models import ImageSearchResult
from .._outcomes import short_repr
from .._request import ApiRequest
from ..marketplaces import (
    DEFAULT_LOCALE,
    Marketplace,
    PlatformName,
    validate_filters,
    validate_image_url,
    validate_locale,
    validate_marketplace,
    validate_use_platform,
)
from ._items import parse_items, parse_items_now

__all__ = [
    "IMAGE_SEARCH_PATH",
    "ImageBatch",
    "ImageQuery",
    "ResolvedQuery",
    "aparse_image_search",
    "parse_image_search",
    "parse_image_search_data",
    "resolve_query",
]

IMAGE_SEARCH_PATH = "/api/client/third-purchase/image/query"


def _filters_tuple(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None or isinstance(value, str | bytes):
        return value  # type: ignore[return-value]  # rejected later with a clear error
    if not isinstance(value, Iterable):
        raise InputError(f"filters must be a list of strings, not {type(value).__name__}")
    return tuple(value)


@attrs.frozen
class ImageQuery:
    """One image to search in a batch, with options that override the batch's.

    Fields left as `None` take the value given to `search_many()` /
    `search_stream()`.

    Attributes:
        img: The image URL.
        platform: The marketplace, or `None` for the batch's.
        language: The locale, or `None` for the batch's.
        use_platform: 1688-native fields, or `None` for the batch's.
        filters: 1688 filters, or `None` for the batch's.
    """

    img: str = attrs.field(repr=short_repr)
    platform: Marketplace | PlatformName | None = None
    language: str | None = None
    use_platform: bool | None = None
    filters: tuple[str, ...] | None = attrs.field(default=None, converter=_filters_tuple)


@attrs.frozen(cache_hash=True)
class ResolvedQuery:
    """A validated query, ready to send; equal queries send the same request.

    Attributes:
        img: The image URL.
        marketplace: The marketplace.
        language: The locale sent in the `Language` header.
        use_platform: Whether 1688-native fields are requested.
        filters: 1688 filters.
    """

    img: str = attrs.field(repr=short_repr)
    marketplace: Marketplace
    language: str
    use_platform: bool = False
    filters: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        """Build the JSON body of the request.

        Returns:
            The body: `img`, `platform`, and for 1688 `use_platform` ("0"/"1")
            and `filter` when filters were given.
        """
        body: dict[str, Any] = {"img": self.img, "platform": self.marketplace.value}
        if self.marketplace is Marketplace.ALIBABA_1688:
            body["use_platform"] = "1" if self.use_platform else "0"
            if self.filters:
                body["filter"] = list(self.filters)
        return body

    def request(self) -> ApiRequest[ImageSearchResult]:
        """Describe the call.

        Returns:
            The request, for the pipeline.
        """
        return ApiRequest(
            endpoint="image_search",
            method="POST",
            path=IMAGE_SEARCH_PATH,
            parse=parse_image_search_data,
            json=self.payload(),
            language=self.language,
        )


def resolve_query(
    img: str,
    *,
    platform: Marketplace | str | None,
    language: str | None,
    use_platform: bool | None,
    filters: Iterable[str] | None,
    stacklevel: int = 3,
) -> ResolvedQuery:
    """Validate a search's arguments, before any I/O.

    Args:
        img: The image URL.
        platform: The marketplace.
        language: The locale, or `None` for the API default (`zh_CN`).
        use_platform: 1688-native fields (`None` means off).
        filters: 1688 filters.
        stacklevel: For the warning about unknown filters.

    Returns:
        The validated query.

    Raises:
        InputError: Any argument is invalid.
    """
    if platform is None:
        raise InputError("platform is required: 'taobao' or '1688'")
    marketplace = validate_marketplace(platform)
    locale = validate_locale(marketplace, language) or DEFAULT_LOCALE
    return ResolvedQuery(
        img=validate_image_url(img),
        marketplace=marketplace,
        language=locale,
        use_platform=validate_use_platform(
            marketplace, False if use_platform is None else use_platform
        ),
        filters=validate_filters(marketplace, filters, stacklevel=stacklevel + 1),
    )


@attrs.frozen
class ImageBatch:
    """A batch's own arguments, validated once (when they name a platform).

    `resolve` turns each input (a URL or an `ImageQuery`) into the query its
    outcome carries (the batch's values filled in where it left `None`) and
    the validated query sent, which is also its de-duplication key.
    """

    platform: Marketplace | PlatformName | None
    language: str | None
    use_platform: bool
    filters: tuple[str, ...] | None
    template: ResolvedQuery | None = None  # every field but `img`, when a platform is set

    @classmethod
    def build(
        cls,
        platform: Marketplace | PlatformName | None,
        language: str | None,
        use_platform: bool,
        filters: Iterable[str] | None,
        *,
        stacklevel: int,
    ) -> ImageBatch:
        """Validate the batch's arguments, before any I/O.

        Args:
            platform: The marketplace for inputs that do not set theirs.
            language: The locale, likewise.
            use_platform: 1688-native fields, likewise.
            filters: 1688 filters, likewise.
            stacklevel: For the warning about unknown filters.

        Returns:
            The defaults.

        Raises:
            InputError: An argument is invalid.
        """
        if isinstance(filters, str | bytes):
            raise InputError("filters must be a list of strings, not a single string")
        as_tuple = None if filters is None else tuple(filters)
        template = None
        if platform is not None:
            template = resolve_query(
                "https://template.invalid/",
                platform=platform,
                language=language,
                use_platform=use_platform,
                filters=as_tuple,
                stacklevel=stacklevel + 1,
            )
        return cls(platform, language, use_platform, as_tuple, template)

    def resolve(self, item: object) -> tuple[ImageQuery, ResolvedQuery]:
        """Validate one input.

        Args:
            item: A URL or an `ImageQuery`.

        Returns:
            The query as sent (defaults filled in) and the validated query.

        Raises:
            InputError: The input is invalid.
        """
        template = self.template
        if template is not None and isinstance(item, str):
            # The common case, a plain URL: only the URL is left to check.
            resolved = ResolvedQuery(
                validate_image_url(item),
                template.marketplace,
                template.language,
                template.use_platform,
                template.filters,
            )
            query = ImageQuery(
                resolved.img,
                platform=template.marketplace,
                language=template.language,
                use_platform=template.use_platform,
                filters=template.filters,
            )
            return query, resolved
        query = self.unresolved(item)
        resolved = resolve_query(
            query.img,
            platform=query.platform,
            language=query.language,
            use_platform=query.use_platform,
            filters=query.filters,
            stacklevel=3,
        )
        sent = attrs.evolve(
            query,
            platform=resolved.marketplace,
            language=resolved.language,
            use_platform=resolved.use_platform,
            filters=resolved.filters,
        )
        return sent, resolved

    def require_platform(self, item: object) -> None:
        """Refuse, for the whole batch, an input that leaves the platform to a batch without one.

        Args:
            item: A URL or an `ImageQuery` (anything else is left to `resolve`).

        Raises:
            InputError: The batch has no `platform` and the input names none.
        """
        if isinstance(item, str) or (isinstance(item, ImageQuery) and item.platform is None):
            raise InputError(
                "platform is required: pass platform='taobao' or '1688' to the batch "
                "(or ImageQuery inputs that name their own)"
            )

    def unresolved(self, item: object) -> ImageQuery:
        """The query an input stands for, the batch's values filled in, unvalidated.

        Args:
            item: A URL or an `ImageQuery` (or anything: it is not checked).

        Returns:
            The query, as a `Failed` for an invalid input carries it.
        """
        if isinstance(item, ImageQuery):
            return ImageQuery(
                img=item.img,
                platform=item.platform if item.platform is not None else self.platform,
                language=item.language if item.language is not None else self.language,
                use_platform=(
                    item.use_platform if item.use_platform is not None else self.use_platform
                ),
                filters=item.filters if item.filters is not None else self.filters,
            )
        return ImageQuery(
            img=item,  # type: ignore[arg-type]  # validated by resolve_query
            platform=self.platform,
            language=self.language,
            use_platform=self.use_platform,
            filters=self.filters,
        )


def _result(
    data: Mapping[str, Any],
    items: tuple[Any, ...],
    total: int | None,
    request_id: str | None,
    dropped: int,
) -> ImageSearchResult:
    try:
        api_type = to_optional_str(data.get("api_type"))
    except TypeError:
        raise ResponseValidationError("data.api_type is not a string") from None
    return ImageSearchResult(
        items=items,
        total_results=total,
        api_type=api_type,
        request_id=request_id,
        raw=data,
        dropped_items=dropped,
    )


async def parse_image_search_data(
    data: Mapping[str, Any], request_id: str | None
) -> ImageSearchResult:
    """Turn an image search answer's `data` into an `ImageSearchResult`.

    Args:
        data: The envelope's `data`.
        request_id: The response's request id.

    Returns:
        The result.

    Raises:
        ResponseValidationError: The answer does not have the documented shape.
    """
    items, total, dropped = await parse_items(data)
    return _result(data, items, total, request_id, dropped)


async def aparse_image_search(body: bytes, *, request_id: str | None = None) -> ImageSearchResult:
    """Turn a whole image search response body into a result, as the pipeline does.

    For tests, benchmarks and recorded answers: envelope, then
    `parse_image_search_data` (long item lists yield between slices).

    Args:
        body: The raw body of a 2xx response.
        request_id: The response's request id.

    Returns:
        The result.

    Raises:
        APIError: The envelope's `ret` is not 1.
        ResponseValidationError: The body does not have the documented shape.
    """
    data = parse_envelope(body, request_id=request_id)
    try:
        return await parse_image_search_data(data, request_id)
    except ResponseValidationError as error:
        _annotate(error, body, request_id)
        raise


def _annotate(error: ResponseValidationError, body: bytes, request_id: str | None) -> None:
    error.request_id = request_id
    error.body_excerpt = error.body_excerpt or sanitise_excerpt(body)


def parse_image_search(body: bytes, *, request_id: str | None = None) -> ImageSearchResult:
    """`aparse_image_search` in one synchronous step, outside an event loop.

    Args:
        body: The raw body of a 2xx response.
        request_id: The response's request id.

    Returns:
        The result.

    Raises:
        APIError: The envelope's `ret` is not 1.
        ResponseValidationError: The body does not have the documented shape.
    """
    data = parse_envelope(body, request_id=request_id)
    try:
        items, total, dropped = parse_items_now(data)
        return _result(data, items, total, request_id, dropped)
    except ResponseValidationError as error:
        _annotate(error, body, request_id)
        raise
