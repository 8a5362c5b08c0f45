"""API keys and tenant scope: ``Authorization: Bearer <key>`` maps to a tenant; no keys = open service."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.deps import get_components
from app.host_policy import is_loopback
from kernel.errors import ForbiddenError, NotFoundError, UnauthorizedError
from kernel.ports import CollectionAdmin
from kernel.settings import Settings
from kernel.tenancy import OPEN_TENANT, logical_collection, resolve


def bearer_token(authorization: str) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` header value, as bytes; None for any other value."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip().encode("utf-8", "surrogateescape")


def authenticate(authorization: str, keys: Mapping[str, str]) -> str:
    """The tenant of an ``Authorization`` header value; raises UnauthorizedError (401) when none matches.

    Without keys the service is open and every caller is the open tenant.
    """
    if not keys:
        return OPEN_TENANT
    supplied = bearer_token(authorization)
    if supplied is None:
        raise UnauthorizedError("this service needs an API key: send 'Authorization: Bearer <key>'")
    tenant = None
    # Compare against every key in constant time, so timing does not reveal how much of a key matched.
    for key, owner in keys.items():
        if hmac.compare_digest(key.encode(), supplied):
            tenant = owner
    if tenant is None:
        raise UnauthorizedError("unknown API key")
    return tenant


def authorize_scrape(authorization: str, client_host: str, settings: Settings) -> None:
    """Let a ``/metrics`` scrape through, or raise: job counts span every tenant, so with API keys set
    only the operator sees them: ``SYNTHRAG_METRICS_KEY`` as a bearer token, or any loopback client
    when no metrics key is set. Without API keys (an open, loopback-only service) anyone local may scrape.
    """
    if not settings.api_keys:
        return
    if settings.metrics_key is None:
        if is_loopback(client_host):
            return
        raise ForbiddenError("/metrics spans every tenant: scrape it from this host, or set SYNTHRAG_METRICS_KEY")
    supplied = bearer_token(authorization)
    expected = settings.metrics_key.get_secret_value().encode()
    if supplied is None or not hmac.compare_digest(expected, supplied):
        raise UnauthorizedError("/metrics needs 'Authorization: Bearer <SYNTHRAG_METRICS_KEY>'")


async def tenant_of(request: Request) -> str:
    """The caller's tenant; raises UnauthorizedError (401) when keys are configured and none matches."""
    return authenticate(request.headers.get("authorization", ""), get_components(request).settings.api_keys)


TenantDep = Annotated[str, Depends(tenant_of)]


@dataclass(frozen=True, slots=True)
class TenantScope:
    """The caller's view of the collections: its own names, mapped to store collections."""

    tenant: str
    store: CollectionAdmin
    default: str
    dim: int

    def collection(self, name: str | None) -> str:
        """The store collection behind one of the tenant's names (the default one when None).

        The default collection always exists (created empty on first use, so a new tenant gets no
        hits rather than an error); any other unknown name is a 404 naming it as the caller wrote it.
        """
        logical = name or self.default
        physical = resolve(self.tenant, logical)
        if not self.store.exists(physical):
            if logical != self.default:
                raise NotFoundError(f"collection '{logical}' does not exist; upload documents to create it")
            self.store.ensure_collection(physical, dim=self.dim)
        return physical

    def names(self) -> list[str]:
        """The tenant's collection names, the default one included."""
        own = {logical_collection(self.tenant, name) for name in self.store.list_collections()}
        return sorted({n for n in own if n} | {self.default})


async def tenant_scope(request: Request) -> TenantScope:
    """The caller's tenant scope (authenticates the request).

    One dependency that reads the components itself, not one built of four others: FastAPI resolves
    each dependency of every request in Python, and a search paid for five (profiled; README "Throughput").
    """
    components = get_components(request)
    search = components.search
    return TenantScope(
        tenant=await tenant_of(request),
        store=search.store,
        default=components.settings.collection,
        dim=search.embedder.dim,
    )


ScopeDep = Annotated[TenantScope, Depends(tenant_scope)]
