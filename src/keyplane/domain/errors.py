"""Domain errors. Services raise them; one handler in ``keyplane.http`` maps them to HTTP.

Messages are shown to users as they are: they say what went wrong and, where
there is one, what to do about it. They never contain a secret.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user can be shown."""

    status_code = 400

    def __init__(self, message: str, *, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors


class InvalidInput(DomainError):
    status_code = 400


class NotAuthenticated(DomainError):
    """No credential, or one that is malformed, unknown, expired or revoked."""

    status_code = 401


class Forbidden(DomainError):
    """The principal can see the object but lacks a permission on it."""

    status_code = 403

    def __init__(self, permission: str, message: str | None = None) -> None:
        super().__init__(message or f"missing permission {permission}")
        self.permission = permission


class RefusedByPolicy(DomainError):
    """The principal holds every permission asked for, but the object's own policy
    refuses its kind of caller (a deployment that takes deploys only from CI)."""

    status_code = 403


class OutsideAllowedRanges(DomainError):
    """A valid credential used from an address outside an ``allowedIpRanges`` that
    applies to it (the credential's own or its organization's)."""

    status_code = 403


class NotFound(DomainError):
    """The object does not exist, or the principal may not know that it does."""

    status_code = 404


class Conflict(DomainError):
    status_code = 409


class TooManyRequests(DomainError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
