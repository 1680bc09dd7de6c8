# SPDX-License-Identifier: MIT
"""Product details: `POST /api/client/third-purchase/info`, a product and its SKUs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio.lowlevel
import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from .._convert import converter, explain_failure, to_optional_str
from .._exceptions import InputError, ResponseValidationError
from .._models import Product, ProductDetails, Sku
from .._outcomes import short_repr
from .._request import ApiRequest
from .._validation import check_http_url, check_product_id, describe
from ..marketplaces import (
    DEFAULT_LOCALE,
    MAX_IMAGE_URL_LENGTH,
    Marketplace,
    validate_locale,
    validate_marketplace,
    validate_use_platform,
)

__all__ = [
    "PRODUCT_DETAILS_PATH",
    "DetailsBatch",
    "DetailsQuery",
    "ProductRef",
    "marketplace_of_url",
    "parse_product_details",
    "parse_product_details_now",
    "parse_sku_properties",
    "resolve_details_query",
]

PRODUCT_DETAILS_PATH = "/api/client/third-purchase/info"

ProductRef = int | str | Product
"""What names a product: its id (an int or a digit string), its URL, or a `Product`."""

# Each known product host, its marketplace, and where its URLs keep the id.
_OFFER_PATH = re.compile(r"/offer/([0-9]{1,20})\.html")
_HOSTS: dict[str, Marketplace] = {
    "detail.1688.com": Marketplace.ALIBABA_1688,
    "m.1688.com": Marketplace.ALIBABA_1688,
    "item.taobao.com": Marketplace.TAOBAO,
    "detail.tmall.com": Marketplace.TAOBAO,
}


@attrs.frozen(cache_hash=True)
class DetailsQuery:
    """A validated product details call.

    Equal queries ask for the same product: `123`, `"123"`, a `Product` and a
    product URL of the same id on the same marketplace are one query.

    Attributes:
        keyword: What is sent as `keyword`: the id as a decimal string, or
            the URL as given for a URL on a host the SDK does not know.
        marketplace: The marketplace.
        language: The locale sent in the `Language` header.
        use_platform: Whether 1688-native fields are requested.
    """

    keyword: str = attrs.field(repr=short_repr)
    marketplace: Marketplace
    language: str
    use_platform: bool = False

    @property
    def product_id(self) -> int | None:
        """The product id, or `None` when a URL is sent as given."""
        return int(self.keyword) if self.keyword.isdigit() else None

    def payload(self) -> dict[str, Any]:
        """Build the JSON body.

        Returns:
            The body: `keyword`, `platform`, and for 1688 `use_platform`.
        """
        body: dict[str, Any] = {"keyword": self.keyword, "platform": self.marketplace.value}
        if self.marketplace is Marketplace.ALIBABA_1688:
            body["use_platform"] = "1" if self.use_platform else "0"
        return body

    def request(self) -> ApiRequest[ProductDetails]:
        """Describe the call.

        Returns:
            The request, for the pipeline.
        """
        return ApiRequest(
            endpoint="product_details",
            method="POST",
            path=PRODUCT_DETAILS_PATH,
            parse=parse_product_details,
            json=self.payload(),
            language=self.language,
        )


def marketplace_of_url(url: str) -> tuple[Marketplace, int | None] | None:
    """Tell which marketplace a product URL belongs to, and the id it names.

    Args:
        url: An absolute URL.

    Returns:
        `(marketplace, id)` for a URL on a known product host (`id` is `None`
        when the URL holds none), or `None` for any other host.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    marketplace = _HOSTS.get(host)
    if marketplace is None:
        return None
    if marketplace is Marketplace.ALIBABA_1688:
        match = _OFFER_PATH.fullmatch(parts.path)
        return marketplace, None if match is None else int(match.group(1))
    ids = parse_qs(parts.query).get("id", [])
    if len(ids) == 1 and ids[0].isascii() and ids[0].isdigit() and len(ids[0]) <= 20:
        return marketplace, int(ids[0])
    return marketplace, None


def _inferred(
    product: ProductRef, platform: Marketplace | str | None
) -> tuple[str, Marketplace | None]:
    """The keyword to send, and the marketplace the reference itself names."""
    if isinstance(product, Product):
        found = marketplace_of_url(product.detail_url) if product.detail_url else None
        return str(check_product_id(product.num_iid)), None if found is None else found[0]
    if isinstance(product, str) and not product.strip().isdigit():
        url = check_http_url("product", product, max_length=MAX_IMAGE_URL_LENGTH)
        found = marketplace_of_url(url)
        if found is None:
            if platform is None:
                raise InputError(
                    f"platform is required for a product URL on an unknown host: {describe(url)}"
                )
            return url, None
        marketplace, product_id = found
        if product_id is None:
            raise InputError(f"the {marketplace.value} URL names no product id: {describe(url)}")
        return str(product_id), marketplace
    return str(check_product_id(product)), None


def resolve_details_query(
    product: ProductRef,
    *,
    platform: Marketplace | str | None,
    language: str | None,
    use_platform: bool = False,
) -> DetailsQuery:
    """Validate a product details call's arguments, before any I/O.

    Args:
        product: An id (int or digit string), a product URL, or a `Product`.
        platform: The marketplace; inferred from a known product URL (or a
            `Product`'s `detail_url`) when `None`.
        language: The locale, or `None` for the API default (`zh_CN`).
        use_platform: 1688-native fields.

    Returns:
        The validated query.

    Raises:
        InputError: A bad id or URL, no platform where none can be inferred,
            or a platform that contradicts the URL's.
    """
    keyword, inferred = _inferred(product, platform)
    if platform is None:
        if inferred is None:
            raise InputError(
                "platform is required: 'taobao' or '1688' (it is inferred only from "
                "detail.1688.com, m.1688.com, item.taobao.com and detail.tmall.com URLs)"
            )
        marketplace = inferred
    else:
        marketplace = validate_marketplace(platform)
        if inferred is not None and inferred is not marketplace:
            raise InputError(
                f"platform {marketplace.value!r} contradicts the product's marketplace "
                f"({inferred.value!r})"
            )
    return DetailsQuery(
        keyword=keyword,
        marketplace=marketplace,
        language=validate_locale(marketplace, language) or DEFAULT_LOCALE,
        use_platform=validate_use_platform(marketplace, use_platform),
    )


@attrs.frozen
class DetailsBatch:
    """A product batch's own arguments, validated once (when they name a platform).

    `resolve` turns each input into its `DetailsQuery`, which is also its
    de-duplication key. An id (`int` or digit string) or a URL on an unknown
    host takes the batch's `platform`; a known product URL, or a `Product`
    whose `detail_url` is one, names its own marketplace, which wins over the
    batch's (the batch's `platform` is a default, not a check). A
    `DetailsQuery` is taken as it is (and checked again).
    """

    platform: Marketplace | str | None
    language: str | None
    use_platform: bool
    marketplace: Marketplace | None = None  # the batch's, validated
    locale: str | None = None  # the batch's locale for `marketplace`

    @classmethod
    def build(
        cls, platform: Marketplace | str | None, language: str | None, use_platform: bool
    ) -> DetailsBatch:
        """Validate the batch's arguments, before any I/O.

        Args:
            platform: The marketplace for inputs that do not name theirs.
            language: The locale.
            use_platform: 1688-native fields.

        Returns:
            The defaults.

        Raises:
            InputError: An argument is invalid (for a given `platform`).
        """
        if platform is None:
            return cls(platform, language, use_platform)
        marketplace = validate_marketplace(platform)
        locale = validate_locale(marketplace, language) or DEFAULT_LOCALE
        validate_use_platform(marketplace, use_platform)
        return cls(platform, language, use_platform, marketplace, locale)

    def resolve(self, item: object) -> tuple[DetailsQuery, DetailsQuery]:
        """Validate one input.

        Args:
            item: An id, a product URL, a `Product` or a `DetailsQuery`.

        Returns:
            The query, twice: as the outcome's and as the key.

        Raises:
            InputError: The input is invalid.
        """
        if isinstance(item, DetailsQuery):
            query = resolve_details_query(
                item.keyword,
                platform=item.marketplace,
                language=item.language,
                use_platform=item.use_platform,
            )
            return query, query
        keyword, inferred = _inferred(item, self.platform)  # type: ignore[arg-type]  # checked
        marketplace = inferred or self.marketplace
        if marketplace is None:
            raise InputError(
                "platform is required: 'taobao' or '1688' (it is inferred only from "
                "detail.1688.com, m.1688.com, item.taobao.com and detail.tmall.com URLs)"
            )
        if marketplace is self.marketplace and self.locale is not None:
            query = DetailsQuery(keyword, marketplace, self.locale, self.use_platform)
        else:
            query = DetailsQuery(
                keyword,
                marketplace,
                validate_locale(marketplace, self.language) or DEFAULT_LOCALE,
                validate_use_platform(marketplace, self.use_platform),
            )
        return query, query

    @staticmethod
    def unresolved(item: object) -> ProductRef | DetailsQuery:
        """What a `Failed` carries for an input `resolve` refused: the input as given.

        Args:
            item: The input.

        Returns:
            The input itself.
        """
        return item  # type: ignore[return-value]  # whatever the caller passed


_SEPARATORS = str.maketrans({"；": ";", "：": ":"})


def parse_sku_properties(text: str) -> tuple[tuple[str, str], ...]:
    """Split a SKU's `properties` string into `(name, value)` pairs.

    `"Color:White;Size:S"` gives `(("Color", "White"), ("Size", "S"))`.
    Full-width `：` and `；` count as separators, empty parts are skipped, a
    value may contain `:` (only the first one separates), and a part without
    any `:` is a name with an empty value.

    Args:
        text: The string as the API sent it.

    Returns:
        The pairs, in order.
    """
    pairs = []
    for part in text.translate(_SEPARATORS).split(";"):
        name, _, value = part.partition(":")
        if name.strip() or value.strip():
            pairs.append((name.strip(), value.strip()))
    return tuple(pairs)


def _is_code(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _parse_properties_name(
    text: str,
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """Split a SKU's `properties_name` into `(name, value)` pairs and their code pairs.

    Onebound-style answers send `"0:0:Color:Red;1:0:Size:M"`: each part is a
    property id, a value id, a name and a value. A part without two leading
    codes is read as `parse_sku_properties` reads it.
    """
    pairs = []
    codes = []
    for part in text.translate(_SEPARATORS).split(";"):
        fields = [field.strip() for field in part.split(":", 3)]
        if len(fields) == 4 and _is_code(fields[0]) and _is_code(fields[1]):
            codes.append((fields[0], fields[1]))
            name, value = fields[2], fields[3]
        else:
            name, _, value = part.partition(":")
            name, value = name.strip(), value.strip()
        if name or value:
            pairs.append((name, value))
    return tuple(pairs), tuple(codes)


def _property_codes(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """`pairs` when every one is a `(property id, value id)` code pair, else `()`."""
    if pairs and all(_is_code(name) and _is_code(value) for name, value in pairs):
        return pairs
    return ()


class _SkuFieldError(TypeError):
    """A SKU field this module structures itself does not fit; the message names it."""


def _properties_text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return ";".join(value)  # ["Color:Red", "Size:M"]
    try:
        return to_optional_str(value) or ""
    except TypeError:
        raise _SkuFieldError(
            f"{key}: expected a string or a list of strings, got {type(value).__name__}"
        ) from None


_SKU_FIELDS = frozenset(a.name for a in attrs.fields(Sku)) - {"extra", "properties_text"}
_SKU_KEYS = _SKU_FIELDS | {"properties_name"}
_DETAILS_FIELDS = frozenset(a.name for a in attrs.fields(ProductDetails)) - {
    "extra",
    "request_id",
    "raw",
    "meta",
}
_DETAILS_KEYS = (_DETAILS_FIELDS - {"original_price"}) | {"orginal_price", "original_price"}

_SKU_OVERRIDES = {
    "properties": cattrs.override(omit=True),
    "properties_text": cattrs.override(omit=True),
    "property_codes": cattrs.override(omit=True),
    "extra": cattrs.override(omit=True),
}
_DETAILS_OVERRIDES = {
    "skus": cattrs.override(omit=True),
    "extra": cattrs.override(omit=True),
    "request_id": cattrs.override(omit=True),
    "raw": cattrs.override(omit=True),
    "meta": cattrs.override(omit=True),
}
# Each model twice: fast, and with detailed validation to say which field
# failed (run only on a failure, on that one object).
_sku_fields = make_dict_structure_fn(Sku, converter, **_SKU_OVERRIDES)  # type: ignore[arg-type]
_explained_sku_fields = make_dict_structure_fn(
    Sku,
    converter,
    _cattrs_detailed_validation=True,
    **_SKU_OVERRIDES,  # type: ignore[arg-type]
)
_details_fields = make_dict_structure_fn(
    ProductDetails,
    converter,
    **_DETAILS_OVERRIDES,  # type: ignore[arg-type]
)
_explained_details_fields = make_dict_structure_fn(
    ProductDetails,
    converter,
    _cattrs_detailed_validation=True,
    **_DETAILS_OVERRIDES,  # type: ignore[arg-type]
)


def _why(
    explain: Callable[[Mapping[str, Any], type[Any]], object], data: object, cls: type[Any]
) -> str:
    if not isinstance(data, Mapping):
        return f"expected an object, got {type(data).__name__}"
    try:
        explain(data, cls)
    except Exception as exc:  # noqa: BLE001 - only used to explain a failure already seen
        return explain_failure(exc)
    return "unexpected structuring failure"


def _structure_sku(item: object) -> Sku:
    if not isinstance(item, Mapping):
        raise TypeError(f"expected an object, got {type(item).__name__}")
    codes_text = _properties_text(item, "properties")
    readable = _properties_text(item, "properties_name")
    sku = _sku_fields(item, Sku)
    extra = {k: v for k, v in item.items() if k not in _SKU_KEYS}
    if readable:
        # `properties` is codes ("0:0;1:0"), `properties_name` the text.
        properties, codes = _parse_properties_name(readable)
        listed = _property_codes(parse_sku_properties(codes_text))
        if codes_text and not listed:
            extra["properties"] = item["properties"]  # not codes: keep it as sent
        codes = codes or listed
    else:
        readable = codes_text
        properties = parse_sku_properties(readable)
        codes = _property_codes(properties)
    return attrs.evolve(
        sku, properties=properties, properties_text=readable, property_codes=codes, extra=extra
    )


def _structure_skus(raw_skus: list[Any], start: int, stop: int) -> list[Sku]:
    skus = []
    for index in range(start, min(stop, len(raw_skus))):
        item = raw_skus[index]
        try:
            skus.append(_structure_sku(item))
        except _SkuFieldError as exc:
            raise ResponseValidationError(
                f"data.skus.sku[{index}] does not fit the model: {exc}"
            ) from None
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError):
            reason = _why(_explained_sku_fields, item, Sku)
            raise ResponseValidationError(
                f"data.skus.sku[{index}] does not fit the model: {reason}"
            ) from None
    return skus


def _raw_skus(data: Mapping[str, Any]) -> list[Any]:
    block = data.get("skus")
    if block is None:
        return []
    if isinstance(block, dict):
        block = block.get("sku")
    if block is None:
        return []
    if not isinstance(block, list):
        raise ResponseValidationError(f"data.skus.sku is a {type(block).__name__}, expected a list")
    return block


# SKUs structured between two checkpoints of `parse_product_details`: a few
# milliseconds of work, so that a product with 100,000 SKUs (a raised
# `max_response_bytes`) does not block the event loop. Real products are one slice.
_SKU_SLICE = 512


async def parse_product_details(data: Mapping[str, Any], request_id: str | None) -> ProductDetails:
    """Turn a product details answer's `data` into `ProductDetails`.

    Long SKU lists are structured in slices, with a checkpoint between two.

    Args:
        data: The envelope's `data`.
        request_id: The response's request id.

    Returns:
        The details.

    Raises:
        ResponseValidationError: The answer does not have the documented shape.
    """
    raw_skus = _raw_skus(data)
    skus = _structure_skus(raw_skus, 0, _SKU_SLICE)
    for start in range(_SKU_SLICE, len(raw_skus), _SKU_SLICE):
        await anyio.lowlevel.checkpoint()
        skus.extend(_structure_skus(raw_skus, start, start + _SKU_SLICE))
    return _details(data, skus, request_id)


def parse_product_details_now(data: Mapping[str, Any], request_id: str | None) -> ProductDetails:
    """`parse_product_details` in one synchronous step, for code outside an event loop.

    Args:
        data: The envelope's `data`.
        request_id: The response's request id.

    Returns:
        The details.

    Raises:
        ResponseValidationError: The answer does not have the documented shape.
    """
    raw_skus = _raw_skus(data)
    return _details(data, _structure_skus(raw_skus, 0, len(raw_skus)), request_id)


def _blank(value: object) -> bool:
    return value is None or value == ""


def _details(data: Mapping[str, Any], skus: list[Sku], request_id: str | None) -> ProductDetails:
    fields = dict(data)
    extra = {k: v for k, v in data.items() if k not in _DETAILS_KEYS}
    # The API misspells the key; read the right spelling too, should it be
    # fixed. A null or empty spelling does not hide the other one, and a
    # misspelt value that is not used is kept in `extra`.
    misspelt = fields.pop("orginal_price", None)
    if _blank(fields.get("original_price")):
        fields["original_price"] = misspelt
    elif not _blank(misspelt):
        extra["orginal_price"] = misspelt
    try:
        details = _details_fields(fields, ProductDetails)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError):
        reason = _why(_explained_details_fields, fields, ProductDetails)
        raise ResponseValidationError(f"product details do not fit the model: {reason}") from None
    return attrs.evolve(details, skus=tuple(skus), extra=extra, request_id=request_id, raw=data)
