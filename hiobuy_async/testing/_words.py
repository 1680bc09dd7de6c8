# SPDX-License-Identifier: MIT
"""The fake's vocabulary: localised title words, SKU property values, shop names."""

from __future__ import annotations

__all__ = ["COLORS", "COLORS_CN", "SIZES", "nick", "title"]

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
ADJECTIVES = len(_WORDS["zh_CN"][0])
NOUNS = len(_WORDS["zh_CN"][1])

COLORS = ("White", "Black", "Red", "Blue", "Grey", "Pink")
COLORS_CN = ("白色", "黑色", "红色", "蓝色", "灰色", "粉色")
SIZES = ("S", "M", "L", "XL", "XXL")

_CITIES = ("义乌", "广州", "深圳", "杭州", "温州", "泉州")
_NAMES = ("晨光", "华美", "鑫源", "佳禾", "恒通", "优品")
_KINDS = ("贸易商行", "工艺品厂", "服饰有限公司", "电子商务", "日用品店")


def title(locale: str, adjective: int, noun: int, style: int) -> str:
    """Compose a product title in `locale`.

    Args:
        locale: One of the API's locales.
        adjective: Index of the adjective.
        noun: Index of the noun.
        style: A style number, shown as three digits.

    Returns:
        The title; equal indexes give the same product in every locale.
    """
    adjectives, nouns, noun_first = _WORDS[locale]
    words = (
        (nouns[noun], adjectives[adjective]) if noun_first else (adjectives[adjective], nouns[noun])
    )
    separator = "" if locale in ("zh_CN", "ja") else " "
    return f"{separator.join(words)} {style:03d}"


def nick(city: int, name: int, kind: int) -> str:
    """Compose a Wangwang-style seller nick.

    Args:
        city: Any integer (taken modulo the table).
        name: Any integer.
        kind: Any integer.

    Returns:
        The nick.
    """
    return f"{_CITIES[city % len(_CITIES)]}{_NAMES[name % len(_NAMES)]}{_KINDS[kind % len(_KINDS)]}"
