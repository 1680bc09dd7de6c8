# SPDX-License-Identifier: MIT
"""The JSON the fake answers with: catalog records rendered in the API's shapes."""

from __future__ import annotations

import json
from typing import Any

from ._catalog import Product, skus

__all__ = ["detail_url", "details_data", "envelope", "money", "search_item"]


def money(cents: int) -> str:
    """Render cents as the API's decimal string, e.g. `"21.80"`.

    Args:
        cents: The amount in cents.

    Returns:
        The string.
    """
    return f"{cents // 100}.{cents % 100:02d}"


def envelope(data: object) -> bytes:
    """Render a success envelope `{"ret": 1, "msg": "success", "data": data}`.

    Args:
        data: The envelope's `data`.

    Returns:
        Compact UTF-8 JSON.
    """
    document = {"ret": 1, "msg": "success", "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def detail_url(item: Product) -> str:
    """Return the product page URL of `item` on its marketplace.

    Args:
        item: The product.

    Returns:
        The URL.
    """
    if item.platform == "1688":
        return f"https://detail.1688.com/offer/{item.num_iid}.html"
    return f"https://item.taobao.com/item.htm?id={item.num_iid}"


def _pic_url(item: Product) -> str:
    if item.platform == "1688":
        return f"https://cbu01.alicdn.com/img/ibank/{item.image_key}_!!{item.seller_id}-0-cib.jpg"
    shard = 1 + item.num_iid % 4
    return (
        f"https://img.alicdn.com/imgextra/i{shard}/{item.seller_id}/"
        f"{item.image_key}_!!{item.seller_id}.jpg"
    )


def search_item(
    item: Product, *, locale: str, native: bool, rank: int, search_type: str, confidence: int
) -> dict[str, Any]:
    """Render `item` as one entry of a search's `items.item` list.

    Args:
        item: The product.
        locale: The `Language` of the localised title.
        native: Use 1688-native field names (`use_platform="1"`).
        rank: The 0-based position in the whole result list.
        search_type: `"image"` or `"keyword"`, for the trace token.
        confidence: The match confidence, percent (`tag_percent`).

    Returns:
        A JSON-ready mapping.
    """
    price = money(item.price_cents)
    trace = f"object_id%40{item.num_iid}%5Esearch_type%40{search_type}%5Erank%40{rank + 1}"
    if native:
        jxhy, one_sale, select = item.flags
        return {
            "offerId": item.num_iid,
            "subject": item.title("zh_CN"),
            "subjectTrans": item.title(locale),
            "imageUrl": _pic_url(item),
            "priceInfo": {"price": price, "consignPrice": price},
            "monthSold": item.sales % 5000,
            "repurchaseRate": f"{item.repurchase}%",
            "traceInfo": trace,
            "topCategoryId": item.top_category,
            "secondCategoryId": item.category // 1000,
            "thirdCategoryId": item.category,
            "minOrderQuantity": item.min_order,
            "isJxhy": jxhy,
            "isOnePsale": one_sale,
            "isSelect": select,
            "sellerIdentities": ["tp_member"] if item.tp_member else [],
            "offerIdentities": list(item.tags),
        }
    return {
        "detail_url": detail_url(item),
        "title_cn": item.title("zh_CN"),
        "title": item.title(locale),
        "pic_url": _pic_url(item),
        "price": price,
        "sales": item.sales,
        "num_iid": item.num_iid,
        "seller_nick": trace,
        "tags": list(item.tags),
        "quantity": item.quantity,
        "tag_percent": f"{confidence}%",
        "trace_info": trace,
        "top_category_id": item.top_category,
        "category_id": item.category,
    }


def details_data(item: Product, *, locale: str) -> dict[str, Any]:
    """Render `item` as a product-details `data` object.

    Args:
        item: The product.
        locale: The `Language` of the localised title.

    Returns:
        A JSON-ready mapping (`orginal_price` misspelt, as the API does).
    """
    pic = _pic_url(item)
    return {
        "num_iid": item.num_iid,
        "title": item.title(locale),
        "title_cn": item.title("zh_CN"),
        "detail_url": detail_url(item),
        "pic_url": pic,
        "price": money(item.price_cents),
        "max_price": money(item.max_cents),
        "orginal_price": money(item.original_cents),
        "skus": {
            "sku": [
                {
                    "price": money(sku.price_cents),
                    "properties": sku.properties,
                    "quantity": sku.quantity,
                    "sku_id": sku.sku_id,
                    "spec_id": sku.spec_id,
                }
                for sku in skus(item)
            ]
        },
        "shop_id": item.shop_id,
        "desc": f'<p>{item.title("zh_CN")}</p><p><img src="{pic}"/></p>',
    }
