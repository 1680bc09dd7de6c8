# SPDX-License-Identifier: MIT
"""The fake's one catalog: products, SKUs and shops as pure functions of their ids.

Every endpoint reads the same catalog, so they agree on an id: a product
found by image or keyword search has details with the same titles and a
price range holding the search price, and its `shop_id` resolves in
shop-nick. Nothing here does I/O or keeps state; results are cached only
because they are pure.

Membership rules (documented on `FakeHiobuy`):

- a product id is in the catalog iff it lies in `CATALOG_IDS`, on either
  marketplace (the same id is a different product on each);
- a shop id is known iff its 4-character check suffix matches;
- a keyword `"<word> results:<N>"` has exactly N matches; any other keyword
  has 0 to 240, 0 for about one keyword in eight.
"""

from __future__ import annotations

import functools
import re

import attrs

from . import _words
from ._digits import Digits

__all__ = [
    "CATALOG_IDS",
    "MAX_KEYWORD_RESULTS",
    "Product",
    "Shop",
    "Sku",
    "image_matches",
    "keyword_match_count",
    "keyword_matches",
    "product",
    "sample_images",
    "shop",
    "skus",
    "unknown_product_id",
    "unknown_shop_id",
]

CATALOG_IDS = range(600_000_000_000, 800_000_000_000)
"""The product ids the catalog holds (on both marketplaces)."""
MAX_KEYWORD_RESULTS = 10_000
"""The largest N a `"<word> results:<N>"` keyword may ask for."""
_SELLERS = 4096
_BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_SHOP_PREFIX = {"1688": "BBB", "taobao": "TBS"}
_TAGS = ("freePostage", "shipIn48Hours", "noReason7DReturn", "certifiedFactory")
_TOP_CATEGORIES = (7, 54, 312, 1038378, 10166)
_RESULTS = re.compile(r"(?:.*\S\s+)?results:(?P<n>\d{1,9})")
_FW_COLON, _FW_SEMICOLON = "\uff1a", "\uff1b"
SKU_FORMS = 5
"""How many property-string forms SKUs cycle through (see `skus`)."""


@attrs.frozen
class Product:
    """One catalog product: what every endpoint says about it.

    Attributes:
        num_iid: The id.
        platform: `"1688"` or `"taobao"`.
        adjective: Title word index.
        noun: Title word index.
        style: Title style number.
        price_cents: The lowest SKU price (the search price), in cents.
        max_cents: The highest SKU price, in cents.
        original_cents: The list price, at least `max_cents`.
        sales: Units sold.
        quantity: Stock.
        seller_id: The seller's number (in image URLs).
        shop_id: The anonymised shop id (resolves in shop-nick on 1688).
        image_key: The alicdn image key.
        top_category: Category id.
        category: Category id.
        tags: Product tags.
        repurchase: 1688 repurchase rate, percent.
        min_order: 1688 minimum order quantity.
        flags: 1688 `isJxhy`, `isOnePsale`, `isSelect`.
        tp_member: 1688 seller identity flag.
    """

    num_iid: int
    platform: str
    adjective: int
    noun: int
    style: int
    price_cents: int
    max_cents: int
    original_cents: int
    sales: int
    quantity: int
    seller_id: int
    shop_id: str
    image_key: str
    top_category: int
    category: int
    tags: tuple[str, ...]
    repurchase: int
    min_order: int
    flags: tuple[bool, bool, bool]
    tp_member: bool

    def title(self, locale: str) -> str:
        """Return the title in `locale` (`zh_CN` gives `title_cn`).

        Args:
            locale: One of the API's locales.

        Returns:
            The title.
        """
        return _words.title(locale, self.adjective, self.noun, self.style)


@attrs.frozen
class Sku:
    """One SKU of a product.

    Attributes:
        sku_id: The id.
        price_cents: The price, within the product's range.
        quantity: Stock.
        spec_id: 1688-style spec id (hex).
        properties: The raw property string, e.g. `"Color:White;Size:S"`.
    """

    sku_id: int
    price_cents: int
    quantity: int
    spec_id: str
    properties: str


@attrs.frozen
class Shop:
    """A shop that shop-nick knows.

    Attributes:
        shop_id: The anonymised id.
        platform: The marketplace whose products name it.
        nick: The Wangwang nick.
    """

    shop_id: str
    platform: str
    nick: str


@functools.lru_cache(maxsize=65536)
def product(num_iid: int, platform: str) -> Product | None:
    """Return the catalog's product `num_iid` on `platform`.

    Args:
        num_iid: The product id.
        platform: `"1688"` or `"taobao"`.

    Returns:
        The product, or `None` when the catalog does not hold that id.
    """
    if num_iid not in CATALOG_IDS or platform not in _SHOP_PREFIX:
        return None
    digits = Digits("product", platform, str(num_iid))
    adjective, noun, style = (
        digits.next(_words.ADJECTIVES),
        digits.next(_words.NOUNS),
        digits.next(1000),
    )
    cents = 300 + digits.next(29_700)
    spread = 0 if digits.next(4) == 0 else digits.next(cents)
    seller = digits.next(_SELLERS)
    seller_digits = Digits("seller", str(seller))
    return Product(
        num_iid=num_iid,
        platform=platform,
        adjective=adjective,
        noun=noun,
        style=style,
        price_cents=cents,
        max_cents=cents + spread,
        original_cents=cents + spread + digits.next(cents // 2 + 1),
        sales=digits.next(20_000),
        quantity=digits.next(100_000),
        seller_id=2_000_000_000_000 + seller_digits.next(999_999_999_999),
        shop_id=_shop_id(seller, platform),
        image_key="O1CN01" + digits.text(_BASE62, 22),
        top_category=_TOP_CATEGORIES[digits.next(len(_TOP_CATEGORIES))],
        category=100_000_000 + digits.next(30_000_000),
        tags=tuple(tag for tag in _TAGS if digits.next(3) == 0),
        repurchase=digits.next(40),
        min_order=1 + digits.next(10),
        flags=(digits.next(2) == 0, digits.next(2) == 0, digits.next(2) == 0),
        tp_member=digits.next(2) == 1,
    )


@functools.lru_cache(maxsize=4096)
def skus(item: Product) -> tuple[Sku, ...]:
    """Return the 4 to 8 SKUs of `item`.

    The first SKU costs the product's `price`, the last its `max_price`,
    the others lie between. Property strings cycle through five forms from
    a per-product start, so every product shows at least four of them:
    `"Color:White;Size:S"`, `"Color:White"`, full-width (`"颜色\uff1a白色\uff1b尺码\uff1aS"`),
    an empty part `"Color:White;;Size:S"`, and a value holding a colon
    `"Color:White;Spec:Type-C:2m"`.

    Args:
        item: The product.

    Returns:
        The SKUs.
    """
    digits = Digits("skus", item.platform, str(item.num_iid))
    count, form, color, size = 4 + digits.next(5), digits.next(5), digits.next(6), digits.next(5)
    out = []
    for j in range(count):
        if j == 0:
            cents = item.price_cents
        elif j == count - 1:
            cents = item.max_cents
        else:
            cents = item.price_cents + digits.next(item.max_cents - item.price_cents + 1)
        out.append(
            Sku(
                sku_id=4_000_000_000_000 + digits.next(1_000_000_000_000),
                price_cents=cents,
                quantity=digits.next(5000),
                spec_id=digits.text("0123456789abcdef", 32),
                properties=_properties((form + j) % SKU_FORMS, (color + j) % 6, (size + j) % 5, j),
            )
        )
    return tuple(out)


def _properties(form: int, color: int, size: int, j: int) -> str:
    name, size_name = _words.COLORS[color], _words.SIZES[size]
    if form == 1:
        return f"Color:{name}"
    if form == 2:
        return f"颜色{_FW_COLON}{_words.COLORS_CN[color]}{_FW_SEMICOLON}尺码{_FW_COLON}{size_name}"
    if form == 3:
        return f"Color:{name};;Size:{size_name}"
    if form == 4:
        return f"Color:{name};Spec:Type-C:{1 + j}m"
    return f"Color:{name};Size:{size_name}"


def _check(body: str) -> str:
    return Digits("shop-check", body).text(_BASE62, 4)


def _shop_id(seller: int, platform: str) -> str:
    body = _SHOP_PREFIX[platform] + Digits("shop", platform, str(seller)).text(_BASE62, 18)
    return body + _check(body)


def shop(shop_id: str) -> Shop | None:
    """Return the shop `shop_id` names, if the catalog made it.

    Args:
        shop_id: An anonymised shop id as products carry it.

    Returns:
        The shop, or `None` for an id the catalog never hands out.
    """
    body, check = shop_id[:-4], shop_id[-4:]
    platform = next((p for p, prefix in _SHOP_PREFIX.items() if body.startswith(prefix)), None)
    if platform is None or len(body) != len(_SHOP_PREFIX[platform]) + 18 or _check(body) != check:
        return None
    digits = Digits("nick", body)
    return Shop(shop_id, platform, _words.nick(digits.next(97), digits.next(89), digits.next(83)))


def keyword_match_count(keyword: str, platform: str) -> int:
    """Return how many products `keyword` matches on `platform`, before filters.

    Args:
        keyword: The keyword as sent.
        platform: The marketplace.

    Returns:
        N for `"<word> results:<N>"`, else a number from 0 to 240 drawn from
        the keyword (0 for about one keyword in eight).
    """
    counted = _RESULTS.fullmatch(keyword.strip())
    if counted is not None:
        return int(counted["n"])
    digits = Digits("keyword-count", keyword, platform)
    return 0 if digits.next(8) == 0 else 1 + digits.next(240)


@functools.lru_cache(maxsize=256)
def keyword_matches(keyword: str, platform: str) -> tuple[int, ...]:
    """Return the ids `keyword` matches on `platform`, in relevance order.

    Args:
        keyword: The keyword as sent.
        platform: The marketplace.

    Returns:
        `keyword_match_count()` distinct catalog ids.
    """
    count = min(keyword_match_count(keyword, platform), MAX_KEYWORD_RESULTS)
    digits = Digits("keyword", keyword, platform)
    ids: dict[int, None] = {}
    while len(ids) < count:
        ids[CATALOG_IDS.start + digits.next(len(CATALOG_IDS))] = None
    return tuple(ids)


def image_matches(
    img: str, platform: str, count: int, filters: tuple[str, ...]
) -> list[tuple[int, int, int]]:
    """Return what an image search for `img` finds, in rank order.

    Args:
        img: The image URL.
        platform: The marketplace.
        count: How many items to draw before filtering.
        filters: 1688 filters; each drops the items that do not "match" it.

    Returns:
        `(rank, product id, match confidence percent)` triples.
    """
    found = []
    for rank in range(count):
        if any(Digits(img, platform, str(rank), f).next(4) == 0 for f in filters):
            continue
        digits = Digits(img, platform, str(rank))
        num_iid = CATALOG_IDS.start + digits.next(len(CATALOG_IDS))
        found.append((rank, num_iid, max(1, 96 - 4 * rank - digits.next(3))))
    return found


def filtered_out(num_iid: int, platform: str, filters: tuple[str, ...]) -> bool:
    """Tell whether a 1688 filter drops product `num_iid` from a keyword search.

    Args:
        num_iid: The product id.
        platform: The marketplace.
        filters: The filters sent.

    Returns:
        True when some filter does not "match" the product.
    """
    return any(Digits("filter", platform, str(num_iid), f).next(4) == 0 for f in filters)


def unknown_product_id(n: int = 0) -> int:
    """Return an id the catalog does not hold (details answer `ret != 1`).

    Args:
        n: Pick the n-th such id (n >= 0), for many distinct ones.

    Returns:
        A positive id outside `CATALOG_IDS`.
    """
    return 900_000_000_000 + n


def unknown_shop_id() -> str:
    """Return a well-formed shop id whose check fails (shop-nick answers `ret != 1`).

    Returns:
        The id.
    """
    known = _shop_id(0, "1688")
    return known[:-4] + ("AAAA" if known[-4:] != "AAAA" else "BBBB")


def sample_images() -> list[str]:
    """Return a dozen alicdn-style sample image URLs for demos and tests.

    Returns:
        Twelve distinct https image URLs (the fake never fetches them).
    """
    return [
        f"https://cbu01.alicdn.com/img/ibank/O1CN01Sample{n:02d}_!!2216000000{n:03d}-0-cib.jpg"
        if n % 2
        else f"https://img.alicdn.com/imgextra/i{n % 4 + 1}/O1CN01Sample{n:02d}_!!0-item_pic.jpg"
        for n in range(1, 13)
    ]
