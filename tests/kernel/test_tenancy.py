"""Collection names and tenant scoping: one validated type, one resolve."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from kernel.errors import InvalidRequestError
from kernel.settings import Settings
from kernel.tenancy import (
    CollectionName,
    logical_collection,
    physical_name,
    resolve,
    synthetic_collection,
    tenant_of,
)

GOOD = ["default", "a", "Reports_2024", "q1-filings", "x" * 64, "données"]
BAD = ["", "-x", "_x", "a/b", "../etc", "my docs", "x" * 65, "a.b", "a\x00b"]


@pytest.mark.parametrize("name", GOOD)
def test_valid_names_are_kept_as_they_are(name: str) -> None:
    assert CollectionName(name) == name
    assert isinstance(CollectionName(name), str)


@pytest.mark.parametrize("name", BAD)
def test_invalid_names_raise_the_projects_own_error_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidRequestError, match="letters, digits, '-' and '_'"):
        CollectionName(name)


class _Body(BaseModel):
    collection: CollectionName | None = None


def test_in_a_model_the_same_rule_is_a_validation_error() -> None:
    assert _Body(collection="docs").collection == "docs"
    with pytest.raises(ValidationError, match="invalid collection name 'a/b'"):
        _Body(collection="a/b")
    assert _Body(collection="docs").model_dump() == {"collection": "docs"}


def test_settings_validate_the_default_collection() -> None:
    assert Settings(collection="reports").collection == "reports"
    with pytest.raises(ValidationError, match="collection names use letters"):
        Settings(collection="no way")


def test_resolve_maps_tenant_names_to_store_names_and_back() -> None:
    assert resolve("", "docs") == "docs"
    assert resolve("acme", "docs") == "t-acme__docs"
    assert logical_collection("acme", "t-acme__docs") == "docs"
    assert logical_collection("other", "t-acme__docs") is None
    assert logical_collection("", "t-acme__docs") is None


@pytest.mark.parametrize("tenant", ["", "acme"])
def test_resolve_refuses_the_reserved_separator_and_invalid_names(tenant: str) -> None:
    with pytest.raises(InvalidRequestError, match="reserved"):
        resolve(tenant, "a__b")
    with pytest.raises(InvalidRequestError, match="invalid collection name"):
        resolve(tenant, "../etc")


def test_synthetic_companions_are_never_listed_as_collections() -> None:
    assert synthetic_collection("t-acme__docs") == "t-acme__docs__synthetic"
    assert logical_collection("acme", synthetic_collection("t-acme__docs")) is None
    assert logical_collection("", synthetic_collection("docs")) is None
    assert logical_collection("", "docs") == "docs"
    with pytest.raises(InvalidRequestError, match="reserved"):
        resolve("", "docs__synthetic")  # no user collection can be a companion


def test_store_names_fit_the_longest_tenant_collection_and_its_companion() -> None:
    longest = synthetic_collection(resolve("t" * 32, "c" * 64))
    assert physical_name(longest) == longest
    for bad in ["", "../x", "a/b", "-a", "x" * 129]:
        with pytest.raises(InvalidRequestError, match="invalid store collection name"):
            physical_name(bad)


def test_tenant_of_a_store_collection() -> None:
    assert tenant_of(resolve("alpha", "docs")) == "alpha"
    assert tenant_of(synthetic_collection(resolve("alpha", "docs"))) == "alpha"
    assert tenant_of(resolve("", "t-alpha")) == ""  # an open-service name cannot hold the separator
    assert tenant_of(synthetic_collection("docs")) == ""
