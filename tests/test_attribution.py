"""The pure rules of the browser path: first and last click, which partner a sign-up
credits, cookie domains, origins, the settings the script reads, and IP hashing."""

import string
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from referly.domain.clicks import hash_ip
from referly.domain.cookies import (
    cookie_domain_candidates,
    cookie_key_after_landing,
    normalize_cookie_domain,
    script_settings,
    signup_partner_key,
)
from referly.domain.keys import referral_key_from_url
from referly.domain.origins import normalize_origin, origin_allowed

keys = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=64)
labels = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12)
hostnames = st.lists(labels, min_size=1, max_size=5).map(".".join)


@given(current=st.none() | keys, landing=keys)
def test_last_click_always_takes_the_new_key(current: str | None, landing: str) -> None:
    assert cookie_key_after_landing(current, landing, "last_click") == landing


@given(current=keys, landing=keys)
def test_first_click_keeps_an_existing_key(current: str, landing: str) -> None:
    assert cookie_key_after_landing(current, landing, "first_click") == current


@given(landing=keys)
def test_first_click_takes_the_key_when_there_is_none(landing: str) -> None:
    assert cookie_key_after_landing(None, landing, "first_click") == landing
    assert cookie_key_after_landing("", landing, "first_click") == landing


@given(explicit=st.none() | keys, cookie=st.none() | keys, landing=st.none() | keys)
def test_a_signup_credits_explicit_then_cookie_then_url(
    explicit: str | None, cookie: str | None, landing: str | None
) -> None:
    credited = signup_partner_key(explicit, cookie, landing)
    assert credited == (explicit or cookie or landing)
    if not (explicit or cookie or landing):
        assert credited is None  # no referral: the script reports nothing


@given(hostname=hostnames)
def test_auto_tries_every_parent_shortest_first_and_ends_host_only(hostname: str) -> None:
    candidates = cookie_domain_candidates(hostname, "auto")
    assert candidates[-1] == ""
    domains = candidates[:-1]
    assert all(hostname == d or hostname.endswith("." + d) for d in domains)
    assert [d.count(".") for d in domains] == sorted(d.count(".") for d in domains)
    assert all("." in d for d in domains[:-1])  # never a bare top-level domain
    if "." in hostname:
        assert domains[-1] == hostname


def test_auto_domains_for_common_hosts() -> None:
    assert cookie_domain_candidates("www.example.test", "auto") == [
        "example.test",
        "www.example.test",
        "",
    ]
    assert cookie_domain_candidates("shop.example.co.uk", "auto") == [
        "co.uk",  # refused by browsers (a public suffix), so example.co.uk wins
        "example.co.uk",
        "shop.example.co.uk",
        "",
    ]
    assert cookie_domain_candidates("localhost", "auto") == [""]
    assert cookie_domain_candidates("www.example.test", "host") == [""]
    assert cookie_domain_candidates("www.example.test", "example.test") == ["example.test", ""]


@pytest.mark.parametrize(
    ("given_value", "stored"),
    [
        ("auto", "auto"),
        ("HOST", "host"),
        (".Example.com", "example.com"),
        ("shop.example.co.uk", "shop.example.co.uk"),
    ],
)
def test_cookie_domains_are_normalized(given_value: str, stored: str) -> None:
    assert normalize_cookie_domain(given_value) == stored


@pytest.mark.parametrize(
    "bad", ["", "com", "exa mple.com", "-bad.com", "a..com", "x" * 64 + ".com"]
)
def test_bad_cookie_domains_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_cookie_domain(bad)


@pytest.mark.parametrize(
    ("given_value", "stored"),
    [
        ("https://WWW.Shop.Example/", "https://www.shop.example"),
        ("https://shop.example:443", "https://shop.example"),
        ("http://shop.example:80", "http://shop.example"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://*.shop.example", "https://*.shop.example"),
    ],
)
def test_origins_are_normalized_as_browsers_send_them(given_value: str, stored: str) -> None:
    assert normalize_origin(given_value) == stored


@pytest.mark.parametrize("bad", ["shop.example", "ftp://shop.example", "https://shop.example/x"])
def test_bad_origins_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_origin(bad)


def test_allowed_origins_match_exactly_or_by_subdomain_wildcard() -> None:
    allowed = ["https://www.shop.example", "https://*.app.example"]
    assert origin_allowed("https://www.shop.example", allowed)
    assert origin_allowed("https://a.app.example", allowed)
    assert origin_allowed("https://a.b.app.example", allowed)
    assert not origin_allowed("https://app.example", allowed)
    assert not origin_allowed("http://www.shop.example", allowed)
    assert not origin_allowed("https://www.shop.example:8443", allowed)
    assert not origin_allowed("https://evilapp.example", allowed)
    assert not origin_allowed("null", allowed)
    assert origin_allowed("https://anything.example", [])
    assert origin_allowed(None, allowed)  # not a browser script: nothing to check


@given(
    host=st.one_of(
        hostnames,
        hostnames.map(lambda h: h + ".shop.example"),
        hostnames.map(lambda h: h + "shop.example"),
        st.just("shop.example"),
    )
)
def test_a_wildcard_matches_exactly_the_subdomains_of_its_domain(host: str) -> None:
    allowed = ["https://*.shop.example"]
    assert origin_allowed(f"https://{host}", allowed) == host.endswith(".shop.example")


def program(**fields: Any) -> Any:
    defaults = {
        "public_id": "ABCD1234",
        "type": "affiliate",
        "url_params": ["aff"],
        "cookie_lifetime_days": 30,
        "cookie_domain": "auto",
        "attribution": "last_click",
    }
    return SimpleNamespace(**{**defaults, **fields})


def test_the_script_settings_follow_the_program() -> None:
    settings = script_settings(program())
    assert (settings["p"], settings["c"], settings["n"], settings["m"], settings["f"]) == (
        ["aff"],
        "partnero_partner",
        30,
        "auto",
        False,
    )
    friends = script_settings(program(type="referral", cookie_domain="host", url_params=["ref"]))
    assert (friends["c"], friends["m"]) == ("partnero_referral", "")
    first = script_settings(program(attribution="first_click", cookie_domain="shop.example"))
    assert (first["f"], first["m"]) == (True, "shop.example")


@given(key=keys)
def test_the_landing_url_forms_carry_the_key(key: str) -> None:
    assert referral_key_from_url(f"https://shop.example/?aff={key}", ["aff"]) == key
    assert referral_key_from_url(f"https://shop.example/aff/{key}", ["aff"]) == key
    assert referral_key_from_url(f"https://shop.example/?x=1&via={key}", ["aff", "via"]) == key


def test_ip_hashes_cover_a_network_not_an_address() -> None:
    same_network = hash_ip("203.0.113.7", "P1")
    assert same_network == hash_ip("203.0.113.200", "P1")
    assert same_network != hash_ip("203.0.114.7", "P1")
    assert same_network != hash_ip("203.0.113.7", "P2")
    assert hash_ip("2001:db8:1:2::1", "P1") == hash_ip("2001:db8:1:ffff::9", "P1")
    assert hash_ip("not an ip", "P1") is None
    assert same_network is not None and "203" not in same_network
