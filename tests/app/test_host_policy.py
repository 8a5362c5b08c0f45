"""Exposure, Host and cross-site rules (pure): which requests an open or keyed service admits."""

from __future__ import annotations

import pytest

from app.auth import authorize_scrape
from app.host_policy import check_exposure, cross_site_write, host_allowed, host_name, is_loopback
from kernel.errors import ConfigError, ForbiddenError, UnauthorizedError
from kernel.settings import Settings

KEYS = {"key-alpha-0123456789": "alpha"}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "app.localhost"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "example.com", "localhost.example.com", ""])
def test_other_addresses(host: str) -> None:
    assert not is_loopback(host)


def test_an_open_service_may_bind_only_loopback_unless_told() -> None:
    check_exposure("127.0.0.1", Settings())
    check_exposure("0.0.0.0", Settings(api_keys=KEYS))
    check_exposure("0.0.0.0", Settings(open_access=True))
    with pytest.raises(ConfigError, match="SYNTHRAG_API_KEYS"):
        check_exposure("0.0.0.0", Settings())


@pytest.mark.parametrize(
    ("header", "name"),
    [("localhost:8000", "localhost"), ("[::1]:8000", "::1"), ("Example.COM", "example.com"), ("[::1", "")],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def test_hosts_answered_per_mode() -> None:
    open_mode, keyed = Settings(), Settings(api_keys=KEYS)
    assert host_allowed("127.0.0.1:8000", open_mode) and host_allowed("localhost", open_mode)
    assert not host_allowed("evil.example", open_mode) and not host_allowed("", open_mode)
    assert host_allowed("evil.example", keyed)
    listed = Settings(allowed_hosts=["rag.internal"])
    assert host_allowed("rag.internal:443", listed) and host_allowed("localhost", listed)
    assert not host_allowed("evil.example", listed)
    assert host_allowed("anything", Settings(allowed_hosts=["*"]))


def test_cross_site_writes() -> None:
    host = {"host": "127.0.0.1:8000"}
    assert cross_site_write("GET", {**host, "origin": "http://evil.example"}) is None  # reads are not writes
    assert cross_site_write("POST", host) is None  # curl, SDKs: no Origin
    assert cross_site_write("POST", {**host, "origin": "http://127.0.0.1:8000"}) is None
    assert cross_site_write("POST", {**host, "origin": "http://evil.example"}) == "it comes from another origin"
    assert cross_site_write("DELETE", {**host, "origin": "null"}) == "it comes from an opaque origin"
    assert cross_site_write("POST", {**host, "sec-fetch-site": "cross-site"})
    assert cross_site_write("POST", {**host, "origin": "file://x"})


def test_metrics_scrape_rules() -> None:
    authorize_scrape("", "203.0.113.9", Settings())  # open service: anyone who reaches it
    authorize_scrape("", "127.0.0.1", Settings(api_keys=KEYS))  # keys, no metrics key: loopback only
    with pytest.raises(ForbiddenError, match="SYNTHRAG_METRICS_KEY"):
        authorize_scrape("", "203.0.113.9", Settings(api_keys=KEYS))
    with_key = Settings(api_keys=KEYS, metrics_key="metrics-key-0123456789")
    authorize_scrape("Bearer metrics-key-0123456789", "203.0.113.9", with_key)
    with pytest.raises(UnauthorizedError):
        authorize_scrape("Bearer key-alpha-0123456789", "127.0.0.1", with_key)
