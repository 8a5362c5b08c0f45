"""Tenants own collections: each tenant's collections live under their own physical names."""

from __future__ import annotations

import re

from kernel.errors import InvalidRequestError

OPEN_TENANT = ""
_SEPARATOR = "__"
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def validate_tenant(name: str) -> str:
    """Tenant names go into collection names: lowercase letters, digits and '-', max 32."""
    if not _TENANT.match(name):
        raise ValueError(f"tenant {name!r}: use lowercase letters, digits and '-' (max 32, start alphanumeric)")
    return name


def physical_collection(tenant: str, collection: str) -> str:
    """Store-level name of a tenant's collection; the open (no keys) service uses names as they are."""
    if _SEPARATOR in collection:
        raise InvalidRequestError(f"collection {collection!r}: '{_SEPARATOR}' is reserved")
    return f"t-{tenant}{_SEPARATOR}{collection}" if tenant else collection


def logical_collection(tenant: str, physical: str) -> str | None:
    """The tenant-facing name of a store collection, or None when it belongs to someone else."""
    if not tenant:
        return None if _SEPARATOR in physical else physical
    prefix = f"t-{tenant}{_SEPARATOR}"
    return physical[len(prefix) :] if physical.startswith(prefix) else None
