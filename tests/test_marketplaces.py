"""Pure validators of hiobuy_async.marketplaces: no I/O, checked before any request."""

from __future__ import annotations

import typing
import warnings

import pytest

from hiobuy_async import AsyncHiobuy, InputError, Marketplace, PlatformName, UnknownFilterWarning
from hiobuy_async.marketplaces import (
    DEFAULT_LOCALE,
    FILTERS_1688,
    LOCALES,
    MAX_IMAGE_URL_LENGTH,
    is_loopback_host,
    validate_filters,
    validate_image_url,
    validate_locale,
    validate_marketplace,
    validate_use_platform,
)
from hiobuy_async.testing import FakeHiobuy

TAOBAO = Marketplace.TAOBAO
A1688 = Marketplace.ALIBABA_1688


def test_marketplace_values_are_the_api_platform_codes() -> None:
    assert TAOBAO.value == "taobao"
    assert A1688.value == "1688"
    assert str(A1688) == "1688"


def test_locale_table_matches_the_reference() -> None:
    assert LOCALES[TAOBAO] == ("zh_CN", "en_US", "vi_VN")
    assert LOCALES[A1688] == ("zh_CN", "en_US", "ko_KR", "ja", "ru_RU", "vi_VN", "es_ES", "ar")
    assert DEFAULT_LOCALE == "zh_CN"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (TAOBAO, TAOBAO),
        (A1688, A1688),
        ("taobao", TAOBAO),
        ("1688", A1688),
        (" TaoBao ", TAOBAO),
    ],
)
def test_validate_marketplace_accepts_enum_and_codes(
    given: Marketplace | str, expected: Marketplace
) -> None:
    assert validate_marketplace(given) is expected


@pytest.mark.parametrize("given", ["amazon", "", "alibaba", 1688, None, b"1688"])
def test_validate_marketplace_rejects_unknown(given: object) -> None:
    with pytest.raises(InputError, match="unknown platform"):
        validate_marketplace(given)  # type: ignore[arg-type]


@pytest.mark.parametrize(("market", "locales"), list(LOCALES.items()))
def test_validate_locale_accepts_every_listed_locale(
    market: Marketplace, locales: tuple[str, ...]
) -> None:
    for locale in locales:
        assert validate_locale(market, locale) == locale
    assert validate_locale(market, None) is None


@pytest.mark.parametrize(
    ("market", "locale"),
    [
        (TAOBAO, "ko_KR"),
        (TAOBAO, "ja"),
        (TAOBAO, "ar"),
        (A1688, "fr_FR"),
        (A1688, "english"),
        (TAOBAO, ""),
    ],
)
def test_validate_locale_rejects_locale_outside_marketplace(
    market: Marketplace, locale: str
) -> None:
    with pytest.raises(InputError, match="not supported"):
        validate_locale(market, locale)


@pytest.mark.parametrize("given", ["en_US", "en_us", "EN_US", "en-US", "en-us", " en_US "])
@pytest.mark.parametrize("market", [TAOBAO, A1688])
def test_a_locale_is_matched_in_any_case_like_a_platform(market: Marketplace, given: str) -> None:
    assert validate_locale(market, given) == "en_US"
    assert validate_marketplace(" Taobao ") is TAOBAO


@pytest.mark.parametrize(
    ("market", "given", "suggested"),
    [
        (A1688, "en", "en_US"),
        (TAOBAO, "EN", "en_US"),
        (A1688, "en_GB", "en_US"),
        (A1688, "zh", "zh_CN"),
        (TAOBAO, "zh-TW", "zh_CN"),
        (A1688, "ko", "ko_KR"),
        (A1688, "ja_JP", "ja"),
        (A1688, "ar-SA", "ar"),
    ],
)
def test_a_locale_of_a_supported_language_gets_a_suggestion(
    market: Marketplace, given: str, suggested: str
) -> None:
    with pytest.raises(InputError, match=f"did you mean '{suggested}'") as info:
        validate_locale(market, given)
    assert f"language '{given}' is not supported on {market.value}" in str(info.value)


@pytest.mark.parametrize(("market", "given"), [(TAOBAO, "ko_KR"), (A1688, "fr_FR"), (A1688, "")])
def test_no_suggestion_without_a_locale_of_that_language(market: Marketplace, given: str) -> None:
    with pytest.raises(InputError) as info:
        validate_locale(market, given)
    assert "did you mean" not in str(info.value)
    assert "expected one of " + ", ".join(LOCALES[market]) in str(info.value)


def test_the_client_default_language_follows_the_same_rule() -> None:
    client = AsyncHiobuy("u", base_url="http://127.0.0.1:1", language="EN-us")
    assert client._language == "en_US"
    with pytest.raises(InputError, match="by any marketplace: did you mean 'en_US'"):
        AsyncHiobuy("u", base_url="http://127.0.0.1:1", language="en")
    with pytest.raises(InputError, match="by any marketplace; expected one of zh_CN, en_US"):
        AsyncHiobuy("u", base_url="http://127.0.0.1:1", language="fr_FR")


def test_a_long_locale_is_shortened_in_the_error() -> None:
    with pytest.raises(InputError) as info:
        validate_locale(A1688, "x" * 10_000)
    assert len(str(info.value)) < 300


def test_input_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not supported"):
        validate_locale(TAOBAO, "ko_KR")


def test_validate_filters_known_values_pass_silently() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate_filters(A1688, ["certifiedFactory", "qrr10"]) == (
            "certifiedFactory",
            "qrr10",
        )
    assert validate_filters(A1688, None) == ()
    assert validate_filters(A1688, []) == ()
    assert validate_filters(TAOBAO, None) == ()


def test_every_reference_filter_is_known() -> None:
    expected = {
        "certifiedFactory",
        "shipInToday",
        "shipIn24Hours",
        "shipIn48Hours",
        "noReason7DReturn",
        "isOnePsale",
        "isOnePsaleFreePost",
        "new7",
        "new30",
        "1688Selection",
        "isQqyx",
        "jxhy",
        "isSelect",
        *(f"totalEpScoreLv{i}" for i in range(1, 5)),
        *(f"getRate24HLv{i}" for i in range(1, 4)),
        *(f"getRate48HLv{i}" for i in range(1, 4)),
        "qrr0",
        "qrr1",
        "qrr5",
        "qrr10",
    }
    assert expected == FILTERS_1688


def test_validate_filters_unknown_value_warns_and_is_kept() -> None:
    with pytest.warns(UnknownFilterWarning, match="brandNew"):
        assert validate_filters(A1688, ("brandNew", "new7")) == ("brandNew", "new7")


def test_validate_filters_accepts_generators() -> None:
    assert validate_filters(A1688, (f for f in ["new7", "new30"])) == ("new7", "new30")


def test_validate_filters_rejects_taobao() -> None:
    with pytest.raises(InputError, match="1688 only"):
        validate_filters(TAOBAO, ["new7"])


@pytest.mark.parametrize("bare", ["new7", b"new7"])
def test_validate_filters_rejects_bare_string(bare: object) -> None:
    with pytest.raises(InputError, match="not a single string"):
        validate_filters(A1688, bare)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [[""], [3], ["new7", None], ["new\n7"]])
def test_validate_filters_rejects_bad_values(bad: list[object]) -> None:
    with pytest.raises(InputError, match="invalid filter value"):
        validate_filters(A1688, bad)  # type: ignore[arg-type]


def test_validate_use_platform() -> None:
    assert validate_use_platform(A1688, True) is True
    assert validate_use_platform(A1688, False) is False
    assert validate_use_platform(TAOBAO, False) is False
    with pytest.raises(InputError, match="1688 only"):
        validate_use_platform(TAOBAO, True)
    with pytest.raises(InputError, match="must be a bool"):
        validate_use_platform(A1688, 1)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="must be a bool"):
        validate_use_platform(A1688, "1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.jpg",
        "http://cbu01.alicdn.com/img/O1CN01.jpg?x=1#frag",
        "HTTPS://EXAMPLE.COM/A.JPG",
        "https://127.0.0.1:8080/a.png",
        "https://[2001:db8::1]/a.png",
        "https://example.com/" + "a" * (MAX_IMAGE_URL_LENGTH - len("https://example.com/")),
    ],
)
def test_validate_image_url_accepts_absolute_http_urls(url: str) -> None:
    assert validate_image_url(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        ("example.com/a.jpg", "absolute"),
        ("/a.jpg", "absolute"),
        ("ftp://example.com/a.jpg", "absolute"),
        ("file:///etc/passwd", "absolute"),
        ("data:image/png;base64,AAAA", "absolute"),
        ("javascript:alert(1)", "absolute"),
        ("https:///a.jpg", "absolute"),
        ("https://exa mple.com/a.jpg", "whitespace"),
        ("https://example.com/a.jpg\n.png", "whitespace"),
        ("not a url", "absolute http"),
        ("   ", "empty"),
        ("https://example.com/a\tb.jpg", "whitespace"),
        ("https://example.com/a\x00.jpg", "control"),
        ("https://example.com/a\x7f.jpg", "control"),
        ("https://example.com/a\u200b.jpg", "control"),
        ("https://[::1/a.jpg", "not a valid URL"),
        ("https://example.com/" + "a" * MAX_IMAGE_URL_LENGTH, "characters long"),
        ("https://example.com/" + "a" * 1_000_000, "characters long"),
    ],
)
def test_validate_image_url_rejects(url: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        validate_image_url(url)


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (" https://a.com/x.jpg ", "https://a.com/x.jpg"),
        ("https://example.com/a.jpg\n", "https://example.com/a.jpg"),
        ("//img.alicdn.com/x.jpg", "https://img.alicdn.com/x.jpg"),
        ("\t//img.alicdn.com/x.jpg ", "https://img.alicdn.com/x.jpg"),
    ],
)
def test_image_urls_are_stripped_and_protocol_relative_ones_get_https(
    given: str, sent: str
) -> None:
    assert validate_image_url(given) == sent


@pytest.mark.parametrize("value", [None, b"https://example.com/a.jpg", 42])
def test_validate_image_url_rejects_non_strings(value: object) -> None:
    with pytest.raises(InputError, match="URL string"):
        validate_image_url(value)  # type: ignore[arg-type]


def test_validate_image_url_error_is_bounded() -> None:
    with pytest.raises(InputError) as info:
        validate_image_url("gopher://" + "x" * 5000)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("example.com", False),
        ("localhost.example.com", False),
        ("0.0.0.0", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.anyio
async def test_the_api_spelling_is_what_is_sent() -> None:
    fake = FakeHiobuy()
    async with fake.client(language="EN-us") as client:
        await client.image_search(fake.sample_images()[0], platform="Taobao")
        await client.keyword_search("lamp", platform="1688", language="JA")
    assert [request.headers["Language"] for request in fake.requests] == ["en_US", "ja"]


def test_a_filter_typo_warns_with_a_did_you_mean() -> None:
    with pytest.warns(UnknownFilterWarning) as record:
        sent = validate_filters(Marketplace.ALIBABA_1688, ["certifedFactory", "madeUpFilter"])
    assert sent == ("certifedFactory", "madeUpFilter")  # still sent as given
    (warning,) = record
    message = str(warning.message)
    assert "certifedFactory (did you mean certifiedFactory?)" in message
    assert "madeUpFilter;" in message  # nothing close: no suggestion


def test_every_platform_name_the_type_accepts_is_accepted_at_run_time() -> None:
    names = typing.get_args(PlatformName)
    assert {name.lower() for name in names} == {m.value for m in Marketplace}
    for name in names:
        assert validate_marketplace(name).value == name.lower()
