"""The one error hierarchy of synthrag; HTTP mapping lives in ``app/errors.py``.

SynthragError
 ├── ConfigError                 bad settings, detected at start-up
 ├── InputError                  the caller sent something we cannot use (4xx)
 │    ├── UnsupportedFormatError   file type we do not parse (415)
 │    ├── CorruptDocumentError     file claims a type but cannot be read (422)
 │    ├── EmptyDocumentError       file parsed but holds no text (422)
 │    └── InvalidRequestError      a request field is out of range (422)
 ├── UnauthorizedError           missing or unknown API key (401)
 ├── ForbiddenError              request refused by policy: Host, cross-origin write, metrics (403)
 ├── NotFoundError               a named document / collection / job does not exist (404)
 ├── ConflictError               the request collides with work under way, e.g. a deletion (409)
 ├── OverloadedError             too many requests waiting for the model (429 + Retry-After)
 ├── QuotaExceededError          a tenant's queue quota is used up (429)
 └── BackendError                a component we depend on failed (503)
      ├── StoreError               vector store
      ├── EmbeddingError           embedding model
      └── ModelError               chat / generation model
"""

from __future__ import annotations


class SynthragError(Exception):
    """Base class of every error synthrag raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(SynthragError):
    """A setting is missing or invalid."""


class InputError(SynthragError):
    """The input cannot be used; the message says what to change."""


class UnsupportedFormatError(InputError):
    """The file type is not one we parse."""


class CorruptDocumentError(InputError):
    """The file claims a supported type but cannot be read."""


class EmptyDocumentError(InputError):
    """The file was read but contains no extractable text."""


class TooLargeError(InputError):
    """The upload is larger than the configured limit."""


class InvalidRequestError(InputError):
    """A request parameter is invalid."""


class UnauthorizedError(SynthragError):
    """The request carries no valid API key."""


class ForbiddenError(SynthragError):
    """The request is refused by policy whatever its key: an unknown Host, a cross-site write."""


class NotFoundError(SynthragError):
    """A named resource does not exist."""


class ConflictError(SynthragError):
    """The request collides with work under way on the same resource; it can be sent again shortly."""


class OverloadedError(SynthragError):
    """The generation queue is full; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceededError(SynthragError):
    """A tenant has as many jobs (or bytes) queued as it may; it must wait for them to finish."""


class BackendError(SynthragError):
    """A backend component failed."""


class StoreError(BackendError):
    """The vector store failed."""


class EmbeddingError(BackendError):
    """The embedding model failed."""


class ModelError(BackendError):
    """The generation model failed."""
