"""Domain errors: ``message`` is Turkish and fit to show a user, ``code`` is for logs."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class NotAllowed(DomainError):
    """The actor may not do this (wrong unit, wrong role)."""

    code = "not_allowed"


class InvalidState(DomainError):
    """The action does not fit the request's or assignment's current state."""

    code = "invalid_state"


class ValidationFailed(DomainError):
    """Input is malformed (too short a description, unknown kind…)."""

    code = "validation_failed"


class NotFound(DomainError):
    """No such request/assignment — or not one the viewer may see (the two are indistinguishable)."""

    code = "not_found"


class ConcurrencyConflict(DomainError):
    code = "concurrency_conflict"

    def __init__(self) -> None:
        super().__init__(
            "Bu talep siz işlem yaparken başka bir kullanıcı tarafından değiştirildi. "
            "Lütfen sayfayı yenileyip işleminizi tekrar deneyin."
        )
