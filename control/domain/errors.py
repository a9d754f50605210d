"""The one error type the service layer raises: an HTTP status and the bad fields by name."""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(
        self, status: int, errors: dict[str, str], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = errors
        self.headers = headers  # e.g. Retry-After on a 429


def not_found(field: str, what: str) -> ServiceError:
    return ServiceError(404, {field: f"no such {what}"})


def conflict(field: str, message: str) -> ServiceError:
    return ServiceError(409, {field: message})


def invalid(field: str, message: str) -> ServiceError:
    return ServiceError(422, {field: message})
