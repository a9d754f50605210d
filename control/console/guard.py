"""What every console answer carries and every console form must pass.

- Security headers on every answer: a Content-Security-Policy that allows scripts, styles
  and images from the console's own origin only (no inline script, so an injected
  ``<script>`` does not run), ``frame-ancestors 'none'`` (no clickjacking in a frame),
  ``form-action 'self'``, no referrer (URLs carry tenant and search terms), no sniffing.
- CSRF: each session has a random token; every form posts it back as ``csrf`` and a
  request whose token differs is refused (403) before anything happens. The session
  cookie is also ``SameSite=Strict``; the token is the defence that does not depend on
  the browser.
- Log-in attempts are limited per source address by the API's own throttle
  (control/api/throttle.py): ``LOGIN_LIMIT`` failures in ``LOGIN_WINDOW_S`` seconds make
  further attempts answer 429 until the oldest ages out.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),  # pages show passwords and tokens once
]
LOGIN_LIMIT = 10
LOGIN_WINDOW_S = 300.0


class SecurityHeaders:
    """ASGI middleware: the headers above on every response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in HEADERS if n not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def csrf_ok(expected: str, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(expected.encode(), sent.encode())
