# SPDX-License-Identifier: MIT
"""The write side: order lines and addresses (preview), orders and their answers.

`OrderLine` and `Address` are what `preview_order` takes; `Order` and its
parts mirror create-order's documented body; `OrderPreview` and
`OrderSubmission` are the two answers. An address is personal data: its
repr shows no field, and no error or log line of the SDK quotes one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from .._exceptions import InputError
from .._meta import ResponseMeta
from ._details import ProductDetails, Sku

__all__ = [
    "Address",
    "Order",
    "OrderLine",
    "OrderPreview",
    "OrderSku",
    "OrderSkuInfo",
    "OrderSubmission",
    "PriceRange",
    "SkuSpec",
]

Amount = Decimal | int | str
"""A money amount: a `Decimal`, an `int` or a plain decimal string (never a float)."""


@attrs.frozen(slots=True, repr=False)
class Address:
    """A delivery address, in the order preview's documented shape.

    Every field is personal data: `repr()` shows none of them, and the SDK
    never puts one in an error or a log line. All fields are required but
    `street`.

    Attributes:
        receiver_name: Who receives the parcel.
        postcode: The postal code.
        province: The province.
        city: The city.
        district: The district.
        address: The detailed line (street, building, room).
        phone: The receiver's phone number.
        street: The street or sub-district, optional.
    """

    receiver_name: str
    postcode: str
    province: str
    city: str
    district: str
    address: str
    phone: str
    street: str | None = None

    def __repr__(self) -> str:
        return "Address(<personal data hidden>)"


@attrs.frozen(slots=True)
class OrderLine:
    """One line of an order preview: a SKU of a product and a quantity.

    Build it from a product's details with `OrderLine.from_sku(details, sku)`.

    Attributes:
        goods_id: The product id (`num_iid`), as an int or digit string.
        sku_id: The SKU id (`Sku.sku_id`), as an int or string.
        quantity: How many (sent as the string `sum`), at least 1.
        spec_id: The 1688 spec id (`Sku.spec_id`); required for 1688, `"0"`
            for a product without variants; not sent for Taobao when `None`.
    """

    goods_id: int | str
    sku_id: int | str
    quantity: int = 1
    spec_id: str | None = None

    @classmethod
    def from_sku(cls, details: ProductDetails, sku: Sku, quantity: int = 1) -> OrderLine:
        """Build a line for `quantity` of one of a product's SKUs.

        Args:
            details: The product, from `AsyncHiobuy.product_details()`.
            sku: One of `details.skus`.
            quantity: How many.

        Returns:
            The line, with the product id, SKU id and spec id filled in.

        Raises:
            InputError: `sku` is not one of `details.skus`.
        """
        if sku not in details.skus:
            raise InputError(f"SKU {sku.sku_id} is not one of product {details.num_iid}'s SKUs")
        return cls(
            goods_id=details.num_iid, sku_id=sku.sku_id, quantity=quantity, spec_id=sku.spec_id
        )


@attrs.frozen(slots=True)
class OrderPreview:
    """The fees HioBuy quotes for an order (the order preview endpoint).

    The amounts are exact `Decimal`s read from the JSON text (the API sends
    JSON numbers such as `1349.5`; they never pass through `float`). Their
    currency is not documented (CNY, presumably).

    Attributes:
        goods_fee: The products' subtotal (`goodsFee`).
        payment_fee: The total payable (`paymentFee`).
        freight_fee: The domestic shipping (`freightFee`).
        is_free: Whether the domestic shipping is free (`isFree`).
        extra: Fields of `data` that this model does not know, unchanged.
        request_id: The response's `x-request-id` header, when present (not compared).
        raw: The envelope's `data` mapping as received.
        from_cache: True when the quote came from the client's cache (asked
            for with `cache_ttl=`; no request was sent).
        cached_at: When a cached quote was received (UTC), or `None` for a fresh one.
        meta: What the HTTP answer said (`ResponseMeta`: status, redacted
            headers, request id, attempts, elapsed time, engine); `None` for
            a result not read from an answer. Not compared: results equal but
            for their metadata compare equal.
    """

    goods_fee: Decimal | None = None
    payment_fee: Decimal | None = None
    freight_fee: Decimal | None = None
    is_free: bool | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    request_id: str | None = attrs.field(default=None, eq=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    from_cache: bool = attrs.field(default=False, repr=False, eq=False)
    cached_at: datetime | None = attrs.field(default=None, repr=False, eq=False)
    meta: ResponseMeta | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(slots=True)
class SkuSpec:
    """One option of an order's SKU (`sku_info.specs[]`), e.g. `label="Color"`, `value="White"`.

    Attributes:
        label: The option's name.
        value: Its value.
    """

    label: str
    value: str


@attrs.frozen(slots=True)
class PriceRange:
    """A quantity price tier of an order's SKU (`sku_info.priceRangeList[]`).

    Attributes:
        start_quantity: The smallest quantity at this price (`startQuantity`).
        price: The unit price from that quantity.
    """

    start_quantity: int
    price: Amount


@attrs.frozen(slots=True)
class OrderSkuInfo:
    """What describes an order's SKU (`skus[].sku_info`).

    Attributes:
        shop_id: The seller's shop id.
        shop_name: The seller's shop name.
        sku_img: The SKU's image URL.
        imgs: The product's image URLs.
        spec_id: The 1688 spec id (required for 1688).
        min_order_quantity: The seller's minimum order quantity.
        batch_number: The seller's batch size.
        specs: The SKU's options.
        price_ranges: Quantity price tiers (`priceRangeList`).
        extra: Fields to send that this model does not know, as given.
    """

    shop_id: str
    shop_name: str
    sku_img: str
    imgs: Sequence[str] = ()
    spec_id: str | None = None
    min_order_quantity: int | None = None
    batch_number: int | None = None
    specs: Sequence[SkuSpec] = ()
    price_ranges: Sequence[PriceRange] = ()
    extra: Mapping[str, Any] = attrs.field(factory=dict, eq=False)


@attrs.frozen(slots=True)
class OrderSku:
    """One SKU line of an order (`skus[]`).

    Attributes:
        price: The unit price.
        platform_sku: The marketplace's SKU id.
        quantity: How many, at least 1.
        sku_info: What describes the SKU.
        freight_fee: The line's domestic shipping, optional.
        extra: Fields to send that this model does not know, as given.
    """

    price: Amount
    platform_sku: int | str
    quantity: int
    sku_info: OrderSkuInfo
    freight_fee: Amount | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, eq=False)


@attrs.frozen(slots=True)
class Order:
    """A purchasing-agent order, mirroring create-order's documented body.

    Scalars are sent as strings, as documented. `address` is an `Address`
    (sent in the order preview's shape) or a mapping sent as given: the
    create-order page does not publish the address's fields. It is never
    shown in a repr.

    Attributes:
        warehouse_id: The merchant's warehouse id (merchant console).
        user_id: The merchant's user id for the order (merchant console).
        shop_id: The seller's shop id.
        shop_name: The seller's shop name.
        platform: `"taobao"`, `"1688"` or `"weidian"`.
        platform_url: The product page URL.
        name: The product's title.
        skus: The SKU lines, at least one.
        address: Where to deliver.
        freight_fee: The domestic shipping; `"0"` by default, as documented.
        title_cn: The original Chinese title, optional.
        goods_amount: The goods amount, optional.
        remark: A note for the merchant; `client_reference` is appended to it.
        express_line_id: The international shipping line, optional.
        extra: Fields to send that this model does not know, as given.
    """

    warehouse_id: int | str
    user_id: int | str
    shop_id: str
    shop_name: str
    platform: str
    platform_url: str
    name: str
    skus: Sequence[OrderSku]
    address: Address | Mapping[str, Any] = attrs.field(repr=False)
    freight_fee: Amount = "0"
    title_cn: str | None = None
    goods_amount: Amount | None = None
    remark: str | None = None
    express_line_id: int | str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, eq=False)


@attrs.frozen(slots=True)
class OrderSubmission:
    """HioBuy's answer to a submitted order.

    The response body is not documented (no order id is known), so `data`
    is kept exactly as it came; find the order in the merchant console by
    `client_reference` (written into `remark`).

    Attributes:
        idempotency_key: The key the order was submitted under.
        client_reference: The caller's reference, if one was given.
        request_id: The response's `x-request-id` header, when present (not compared).
        data: The envelope's `data` as received.
        meta: What the HTTP answer said (`ResponseMeta`: status, redacted
            headers, request id, attempts, elapsed time, engine); `None` for
            a result not read from an answer. Not compared: results equal but
            for their metadata compare equal.
    """

    idempotency_key: str
    client_reference: str | None = None
    request_id: str | None = attrs.field(default=None, eq=False)
    data: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    meta: ResponseMeta | None = attrs.field(default=None, eq=False, repr=False)
