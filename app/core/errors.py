"""Domain errors without HTTP codes; ``app.web.errors`` maps each kind to a status, page and JSON body."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user can cause; ``message`` is Chinese and says how to fix it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The thing does not exist, or lies outside the caller's area (we do not say which)."""


class Forbidden(DomainError):
    """The caller's role may not do this."""


class NotAuthenticated(DomainError):
    """No valid session or token."""


class Conflict(DomainError):
    """The request clashes with the current state (a duplicate person, a stale edit)."""


class InvalidInput(DomainError):
    """A value is wrong; ``field`` names it."""


class TooManyAttempts(DomainError):
    """Login slowed or locked; ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
