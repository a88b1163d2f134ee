"""Errors the service operations raise; the API turns each into a 4xx with its reason."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A request the service refuses, with a reason a person can act on."""

    status_code = 422

    def __init__(self, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.extra = extra


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class Invalid(ServiceError, ValueError):
    status_code = 422


class Forbidden(ServiceError):
    status_code = 403
