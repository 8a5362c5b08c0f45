"""Names of tenants and collections: one validated :class:`CollectionName`, one :func:`resolve` to store names.

Each tenant's collections live under their own physical (store-level) names, ``t-<tenant>__<name>``;
the open service (no API keys) uses names as they are. Every collection may have a synthetic
companion, ``<physical>__synthetic``, holding its synthetic knowledge; users never see or name it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from kernel.errors import InvalidRequestError

OPEN_TENANT = ""
_SEPARATOR = "__"
_SYNTHETIC_SUFFIX = f"{_SEPARATOR}synthetic"
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_MAX_NAME = 64
_RULE = "use letters, digits, '-' and '_' (max 64, start alphanumeric)"


def validate_tenant(name: str) -> str:
    """Tenant names go into collection names: lowercase letters, digits and '-', max 32."""
    if not _TENANT.match(name):
        raise ValueError(f"tenant {name!r}: use lowercase letters, digits and '-' (max 32, start alphanumeric)")
    return name


class CollectionName(str):
    """A collection name that is safe as a directory name; constructing one validates it.

    Raises :class:`InvalidRequestError` (HTTP 422, a CLI error line) naming the rule; inside pydantic
    models and settings the same check reports a validation error with the same message.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> CollectionName:
        ok = bool(value) and len(value) <= _MAX_NAME and all(c.isalnum() or c in "-_" for c in value)
        if not ok or not value[0].isalnum():
            raise InvalidRequestError(f"invalid collection name {value!r}: collection names {_RULE}")
        return super().__new__(cls, value)

    @classmethod
    def _from_model(cls, value: str) -> CollectionName:
        try:
            return cls(value)
        except InvalidRequestError as exc:
            raise ValueError(exc.message) from None

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls._from_model,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )


#: Longest store-level name: "t-" + tenant (32) + separator + name (64) + the synthetic suffix, with room.
_MAX_PHYSICAL = 128


def physical_name(name: str) -> str:
    """A store-level collection name (tenant prefix and companion suffix included), checked as safe for a
    directory name. Raises InvalidRequestError (it never quotes a tenant's prefix back to a client)."""
    ok = bool(name) and len(name) <= _MAX_PHYSICAL and all(c.isalnum() or c in "-_" for c in name)
    if not ok or not name[0].isalnum():
        raise InvalidRequestError(
            f"invalid store collection name ({len(name)} characters): letters, digits, '-' and '_', "
            f"at most {_MAX_PHYSICAL}, starting alphanumeric"
        )
    return name


def resolve(tenant: str, name: str) -> str:
    """Store-level name of a tenant's collection (validated); the open service uses the name as it is.

    Raises InvalidRequestError for an invalid name or one holding the reserved tenant separator.
    """
    checked = CollectionName(name)
    if _SEPARATOR in checked:
        raise InvalidRequestError(f"collection '{checked}': '{_SEPARATOR}' is reserved")
    return f"t-{tenant}{_SEPARATOR}{checked}" if tenant else str(checked)


def synthetic_collection(physical: str) -> str:
    """Store-level name of the companion that holds a collection's synthetic knowledge.

    A user name cannot hold the separator (see :func:`resolve`), so no user collection can collide with it.
    """
    return f"{physical}{_SYNTHETIC_SUFFIX}"


def tenant_of(physical: str) -> str:
    """The tenant owning a store collection (or its companion); the open service's :data:`OPEN_TENANT` otherwise.

    Open-service names cannot hold the separator (see :func:`resolve`), so ``t-<tenant>__...`` is always a tenant's.
    """
    if physical.startswith("t-") and _SEPARATOR in physical:
        return physical[2:].split(_SEPARATOR, 1)[0]
    return OPEN_TENANT


def logical_collection(tenant: str, physical: str) -> str | None:
    """The tenant-facing name of a store collection, or None when it belongs to someone else (or is a companion)."""
    if not tenant:
        return None if _SEPARATOR in physical else physical
    prefix = f"t-{tenant}{_SEPARATOR}"
    if not physical.startswith(prefix):
        return None
    rest = physical[len(prefix) :]
    return None if _SEPARATOR in rest else rest
