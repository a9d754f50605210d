"""The door of every non-public route: the bearer token checked, failures throttled.

A request with no bearer token is a 401. One with a token from an address that failed
too often lately is a 429 with ``Retry-After`` (control/api/throttle.py), before the
token is looked at. An unknown, revoked or expired token is a 401 and counts as a
failure of its address. A valid one is noted as used (control/api/lastuse.py).
"""

from __future__ import annotations

from control.api.auth import Principal, bearer, lookup, token_hash
from control.api.lastuse import LastUse
from control.api.throttle import FailureThrottle
from control.domain.errors import ServiceError
from control.storage.db import Database

UNAUTHORIZED = {"authorization": "a valid bearer token is required"}


class Gate:
    def __init__(self, db: Database, throttle: FailureThrottle, last_use: LastUse) -> None:
        self.db = db
        self.throttle = throttle
        self.last_use = last_use

    def admit(self, authorization: str | None, address: str) -> Principal:
        token = bearer(authorization)
        if token is None:
            raise ServiceError(401, UNAUTHORIZED)
        wait = self.throttle.retry_after(address)
        if wait is not None:
            raise ServiceError(
                429,
                {"authorization": "too many failed authentications from this address"},
                {"Retry-After": str(wait)},
            )
        principal = lookup(self.db, token)
        if principal is None:
            self.throttle.failed(address)
            raise ServiceError(401, UNAUTHORIZED)
        self.last_use.touch(token_hash(token))
        return principal
