# SPDX-License-Identifier: MIT
"""Deterministic image-search responses shaped like the API's seed sample.

One item is ~650 bytes of JSON, so 20 items come to ~13 KiB, like a real
answer: long trace tokens, a Chinese and an English title, a price string.
"""

from __future__ import annotations

import json
import random

_WORDS = (
    "Sexy",
    "Lace",
    "Low-cut",
    "Pajamas",
    "Women",
    "Summer",
    "Thin",
    "Silk",
    "Nightgown",
    "Sling",
    "Dress",
    "Home",
    "Wear",
    "Cotton",
    "Linen",
    "Casual",
    "Loose",
    "Plus",
    "Size",
    "Korean",
    "Style",
    "Vintage",
    "Elegant",
    "Breathable",
    "Soft",
    "Stretch",
    "Slim",
    "Fit",
    "Round",
    "Neck",
    "Short",
    "Sleeve",
    "Printed",
    "Floral",
    "Striped",
    "Solid",
    "Color",
)
_HANZI = "性感蕾丝低胸睡衣女夏季薄款冰丝吊带睡裙家居服纯棉宽松大码韩版复古优雅透气柔软"


def make_item(rng: random.Random) -> dict[str, object]:
    """One realistic item (Taobao-style fields, price as a string)."""
    num_iid = rng.randrange(500_000_000_000, 999_999_999_999)
    shop = rng.randrange(10**12, 10**13)
    trace = (
        f"object_id%40{num_iid}%5Eobject_type%40offer%5Etrace_id%40"
        f"{rng.getrandbits(96):024x}%5Esessionid%40{rng.getrandbits(64):016x}"
    )
    item: dict[str, object] = {
        "detail_url": f"https://detail.1688.com/offer/{num_iid}.html",
        "title_cn": "".join(rng.choice(_HANZI) for _ in range(rng.randrange(14, 26))),
        "title": " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(6, 11))),
        "pic_url": (
            f"https://cbu01.alicdn.com/img/ibank/O1CN01{rng.getrandbits(80):020x}"
            f"_!!{shop}-0-cib.jpg"
        ),
        "price": f"{rng.randrange(100, 50000) / 100:.2f}",
        "sales": rng.randrange(0, 100_000),
        "num_iid": num_iid,
        "seller_nick": trace,
        "tag_percent": f"{rng.randrange(5, 99)}%",
        "trace_info": trace,
        "top_category_id": rng.randrange(1, 2000),
        "category_id": rng.randrange(10_000, 200_000_000),
    }
    if rng.random() < 0.3:
        item["quantity"] = rng.randrange(0, 10_000)
    return item


def make_response(n_items: int, *, seed: int = 5) -> bytes:
    """A success envelope with `n_items` items, as compact UTF-8 JSON."""
    rng = random.Random(seed)
    document = {
        "ret": 1,
        "msg": "success",
        "data": {
            "api_type": "taobao",
            "items": {"item": [make_item(rng) for _ in range(n_items)], "total_results": 1000},
        },
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


RESPONSE_20 = make_response(20)
RESPONSE_60 = make_response(60)

if __name__ == "__main__":
    print(f"20 items: {len(RESPONSE_20)} bytes, 60 items: {len(RESPONSE_60)} bytes")
