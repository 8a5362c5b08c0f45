"""API keys: ``Authorization: Bearer <key>`` maps to a tenant; no keys configured = open service."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from app.deps import ServicesDep
from app.services import Services
from kernel.errors import NotFoundError, UnauthorizedError
from kernel.tenancy import OPEN_TENANT, physical_collection


def tenant_of(request: Request, services: ServicesDep) -> str:
    """The caller's tenant; raises UnauthorizedError (401) when keys are configured and none matches."""
    keys = services.settings.api_keys
    if not keys:
        return OPEN_TENANT
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("this service needs an API key: send 'Authorization: Bearer <key>'")
    token = token.strip()
    tenant = None
    # Compare against every key in constant time, so timing does not reveal how much of a key matched.
    for key, owner in keys.items():
        if hmac.compare_digest(key.encode(), token.encode()):
            tenant = owner
    if tenant is None:
        raise UnauthorizedError("unknown API key")
    return tenant


TenantDep = Annotated[str, Depends(tenant_of)]


def scoped(services: Services, tenant: str, collection: str | None) -> str:
    """The store collection behind a tenant's collection name (the default one when None).

    The default collection always exists (created empty on first use, so a new tenant gets no hits
    rather than an error); any other unknown name is a 404 that names it as the caller wrote it.
    """
    logical = collection or services.settings.collection
    physical = physical_collection(tenant, logical)
    if physical not in services.store.list_collections():
        if logical != services.settings.collection:
            raise NotFoundError(f"collection '{logical}' does not exist; upload documents to create it")
        services.store.ensure_collection(physical, dim=services.embedder.dim)
    return physical
