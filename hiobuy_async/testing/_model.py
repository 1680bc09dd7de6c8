# SPDX-License-Identifier: MIT
"""Deterministic fake search results: the same image always finds the same products.

Every number and word is drawn from a SHA-256 of the image URL, the
marketplace and the item's rank, so results never change between runs,
processes or machines. Titles are composed from a small word table per locale.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["RESULTS_PER_SEARCH", "TOTAL_RESULTS", "sample_images", "search_items"]

RESULTS_PER_SEARCH = 20
TOTAL_RESULTS = 1000
"""What the real API reports as `total_results`: a cap, not a count."""

# (adjectives, nouns, noun first?) per locale; entries line up across locales.
_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {
    "zh_CN": (
        ("新款", "柔软", "便携", "复古", "简约"),
        ("双肩包", "毛衣", "台灯", "茶壶", "钱包", "雨伞", "围巾", "手机壳"),
        False,
    ),
    "en_US": (
        ("Fashionable", "Soft", "Portable", "Vintage", "Minimalist"),
        ("Backpack", "Sweater", "Desk Lamp", "Teapot", "Wallet", "Umbrella", "Scarf", "Phone Case"),
        False,
    ),
    "ko_KR": (
        ("패션", "부드러운", "휴대용", "빈티지", "미니멀"),
        ("백팩", "스웨터", "조명", "찻주전자", "지갑", "우산", "스카프", "휴대폰 케이스"),
        False,
    ),
    "ja": (
        ("おしゃれな", "柔らかい", "携帯用", "ヴィンテージ", "シンプルな"),
        (
            "リュック",
            "セーター",
            "ランプ",
            "ティーポット",
            "財布",
            "傘",
            "スカーフ",
            "スマホケース",
        ),
        False,
    ),
    "ru_RU": (
        ("Модный", "Мягкий", "Портативный", "Винтажный", "Минималистичный"),
        ("рюкзак", "свитер", "светильник", "чайник", "кошелёк", "зонт", "шарф", "чехол"),
        False,
    ),
    "vi_VN": (
        ("thời trang", "mềm mại", "di động", "cổ điển", "tối giản"),
        ("Ba lô", "Áo len", "Đèn bàn", "Ấm trà", "Ví", "Ô", "Khăn quàng", "Ốp điện thoại"),
        True,
    ),
    "es_ES": (
        ("elegante", "suave", "portátil", "vintage", "minimalista"),
        ("Mochila", "Suéter", "Lámpara", "Tetera", "Cartera", "Paraguas", "Bufanda", "Funda"),
        True,
    ),
    "ar": (
        ("عصري", "ناعم", "محمول", "كلاسيكي", "بسيط"),
        ("حقيبة ظهر", "سترة", "مصباح", "إبريق شاي", "محفظة", "مظلة", "وشاح", "جراب هاتف"),
        True,
    ),
}
_TAGS = ("freePostage", "shipIn48Hours", "noReason7DReturn", "certifiedFactory")
_TOP_CATEGORIES = (7, 54, 312, 1038378, 10166)


class _Digits:
    """Successive integers drawn from one SHAKE-256 stream (one hash per item)."""

    _SIZE = 256

    def __init__(self, *parts: str) -> None:
        self._stream = hashlib.shake_256("\x1f".join(parts).encode()).digest(self._SIZE)
        self._offset = 0

    def next(self, modulo: int) -> int:
        if self._offset + 8 > self._SIZE:
            self._stream = hashlib.shake_256(self._stream).digest(self._SIZE)
            self._offset = 0
        chunk = self._stream[self._offset : self._offset + 8]
        self._offset += 8
        return int.from_bytes(chunk, "big") % modulo

    def text(self, alphabet: str, length: int) -> str:
        if self._offset + length > self._SIZE:
            self._stream = hashlib.shake_256(self._stream).digest(self._SIZE)
            self._offset = 0
        chunk = self._stream[self._offset : self._offset + length]
        self._offset += length
        return "".join(alphabet[byte % len(alphabet)] for byte in chunk)


def _title(locale: str, adjective: int, noun: int, style: int) -> str:
    adjectives, nouns, noun_first = _WORDS[locale]
    words = (
        (nouns[noun], adjectives[adjective]) if noun_first else (adjectives[adjective], nouns[noun])
    )
    separator = "" if locale in ("zh_CN", "ja") else " "
    return f"{separator.join(words)} {style:03d}"


def _image_key(digits: _Digits) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "O1CN01" + digits.text(alphabet, 22)


def search_items(
    img: str,
    *,
    platform: str,
    locale: str,
    native: bool = False,
    filters: tuple[str, ...] = (),
    count: int = RESULTS_PER_SEARCH,
) -> list[dict[str, Any]]:
    """Build the `items.item` list a search for `img` answers with.

    Args:
        img: The image URL searched.
        platform: `"1688"` or `"taobao"`.
        locale: The `Language` of the localised `title` (one of the table's).
        native: 1688 only: use 1688-native field names (`use_platform="1"`).
        filters: 1688 filters; each drops the items that do not "match" it.
        count: How many items to draw before filtering.

    Returns:
        JSON-ready item mappings; equal arguments give equal lists.
    """
    items: list[dict[str, Any]] = []
    for rank in range(count):
        digits = _Digits(img, platform, str(rank))
        if any(_Digits(img, platform, str(rank), f).next(4) == 0 for f in filters):
            continue
        item_id = 600_000_000_000 + digits.next(200_000_000_000)
        seller_id = 2_000_000_000_000 + digits.next(999_999_999_999)
        adjective, noun, style = digits.next(5), digits.next(8), digits.next(1000)
        cents = 300 + digits.next(29_700)
        price = f"{cents // 100}.{cents % 100:02d}"
        key = _image_key(digits)
        trace = f"object_id%40{item_id}%5Esearch_type%40image%5Erank%40{rank + 1}"
        top_category = _TOP_CATEGORIES[digits.next(len(_TOP_CATEGORIES))]
        category = 100_000_000 + digits.next(30_000_000)
        sales, quantity = digits.next(20_000), digits.next(100_000)
        confidence = f"{max(1, 96 - 4 * rank - digits.next(3))}%"
        tags = [tag for tag in _TAGS if digits.next(3) == 0]
        title_cn = _title("zh_CN", adjective, noun, style)
        title = _title(locale, adjective, noun, style)
        if platform == "1688":
            detail_url = f"https://detail.1688.com/offer/{item_id}.html"
            pic_url = f"https://cbu01.alicdn.com/img/ibank/{key}_!!{seller_id}-0-cib.jpg"
        else:
            detail_url = f"https://item.taobao.com/item.htm?id={item_id}"
            shard = 1 + rank % 4
            pic_url = (
                f"https://img.alicdn.com/imgextra/i{shard}/{seller_id}/{key}_!!{seller_id}.jpg"
            )
        if native:
            items.append(
                {
                    "offerId": item_id,
                    "subject": title_cn,
                    "subjectTrans": title,
                    "imageUrl": pic_url,
                    "priceInfo": {"price": price, "consignPrice": price},
                    "monthSold": sales % 5000,
                    "repurchaseRate": f"{digits.next(40)}%",
                    "traceInfo": trace,
                    "topCategoryId": top_category,
                    "secondCategoryId": category // 1000,
                    "thirdCategoryId": category,
                    "minOrderQuantity": 1 + digits.next(10),
                    "isJxhy": digits.next(2) == 0,
                    "isOnePsale": digits.next(2) == 0,
                    "isSelect": digits.next(2) == 0,
                    "sellerIdentities": ["tp_member"] if digits.next(2) else [],
                    "offerIdentities": tags,
                }
            )
            continue
        items.append(
            {
                "detail_url": detail_url,
                "title_cn": title_cn,
                "title": title,
                "pic_url": pic_url,
                "price": price,
                "sales": sales,
                "num_iid": item_id,
                "seller_nick": trace,
                "tags": tags,
                "quantity": quantity,
                "tag_percent": confidence,
                "trace_info": trace,
                "top_category_id": top_category,
                "category_id": category,
            }
        )
    return items


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
