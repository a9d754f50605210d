"""One entry of the control API's route table: what a route does, takes, answers and may fail.

An :class:`Op` is the single place a route is described. ``control.api.app`` builds the
Starlette routes from the table (authentication, role check, query and body parsing happen
there, before the handler runs), and ``control.api.openapi`` builds the OpenAPI document
from the same table, so the two cannot drift. Adding a route is adding one ``Op``:

    Op("GET", "/api/v1/jobs/{id}", job_get, "One job", response=schemas.JobOut, errors=(404,))

Fields:

- ``method``, ``path``: one HTTP method and a Starlette path; each ``{name}`` segment is a
  path parameter (its schema comes from ``schemas.PATH_PARAMETERS``, a string by default).
- ``handler``: ``async (request, principal, control) -> result``; ``result`` is the
  JSON-able answer, or ``(status, answer)``; the parsed body and query are on
  ``request.state.body`` and ``request.state.query``.
- ``summary``: one line for the document.
- ``response``: the type of a successful answer (a pydantic model or e.g. ``list[Model]``);
  ``None`` when the success status is 204.
- ``status``: the success status (200, 201, 204).
- ``body``: the type the JSON body must have, or ``None`` for no body.
- ``body_media_types``: what the body may be sent as; JSON unless said. A body sent as
  another of them (``Content-Type``, e.g. ``text/csv`` for a device import) reaches the
  handler as text, which it parses; the document describes it as a string.
- ``body_limit``: the largest body in bytes, for a bulk route (a 100,000-row CSV file is
  several MiB); None: the application's ``max_body_bytes``.
- ``body_name``: what a 422 calls the body itself: ``body``, or for a list body its name
  (``lines``: the 7th line is ``lines[6]``, as the service's own checks name them).
- ``query``: a pydantic model of the query parameters, or ``None`` (then any is a 422).
- ``role``: ``"public"`` (no token), ``"any"`` (any valid token but an end user's),
  ``"admin"`` (operators and tenant admins), ``"operator"``, or ``"self"`` (end users
  only: the ``/api/v1/me`` routes). An end user's token reaches ``"self"`` routes only.
- ``errors``: the error statuses the handler or the service raise themselves (404 for an
  unknown object, 409 for a conflict, 422 for a check beyond the body's schema).
- ``media_type``: of a successful answer; JSON unless said (``/metrics``: ``text/plain``,
  ``response=str``, the handler returning a whole Starlette ``Response``). Errors are
  JSON whatever it is.

The statuses the machinery adds are derived, never listed by hand (:meth:`Op.statuses`):
401 and 429 (failed authentications from the address) unless public, 403 unless public,
400/413 with a body, 422 always (an unknown or repeated query parameter, a bad field).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request

from control.api.auth import Principal
from control.service import Control

Handler = Callable[[Request, Principal, Control], Awaitable[Any]]
Role = Literal["public", "any", "admin", "operator", "self"]

# What each status means, for the document; the `errors` of the body say which field.
STATUSES = {
    200: "OK",
    201: "created",
    204: "done; no content",
    202: "accepted: a job was queued (its view is the body)",
    400: "the body is not JSON, or the query `q` is malformed (`errors.q` says where)",
    401: "missing or unknown bearer token",
    403: "the token's role may not do this",
    404: "no such object (or outside the token's tenant)",
    409: "conflicts with an existing object; `errors` names the field",
    410: "gone: a one-time link that was used or has expired",
    413: "the body is larger than the limit",
    422: "invalid fields or query parameters; `errors` maps each to what is wrong",
    429: "too many failed authentications from this address; `Retry-After` says when",
}


@dataclass(frozen=True, slots=True)
class Op:
    method: str
    path: str
    handler: Handler
    summary: str
    response: Any
    status: int = 200
    body: Any = None
    body_media_types: tuple[str, ...] = ("application/json",)
    body_limit: int | None = None
    body_name: str = "body"  # what the 422 calls the body itself (a list: its name)
    query: type[BaseModel] | None = None
    role: Role = "admin"
    errors: tuple[int, ...] = ()
    media_type: str = "application/json"

    def statuses(self) -> list[int]:
        """Every status this route can answer, the success status first."""
        found = set(self.errors)
        if self.role != "public":
            found |= {401, 403, 429}  # 403: every role but public refuses some token
        if self.body is not None:
            found |= {400, 413}
        found.add(422)  # every route checks its query: an unknown parameter is refused
        return [self.status, *sorted(found)]
