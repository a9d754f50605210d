"""A small SIP user agent for tests: REGISTER over UDP or TCP with a digest answer.

It computes the digest response the way RFC 7616 does, independently of the edge's own
code, so a test proves the registrar interoperates rather than agrees with itself.
"""

from __future__ import annotations

import hashlib
import secrets
import socket
from dataclasses import dataclass, field
from typing import Any

from edge.sipparse import Message, StreamParser, parse

TIMEOUT = 5.0
_HASHES = {"MD5": "md5", "SHA-256": "sha256"}


def challenge_params(response: Message, algorithm: str = "MD5") -> dict[str, str]:
    """The parameters of the 401's challenge for ``algorithm``."""
    for value in response.header_values("WWW-Authenticate"):
        params = _params(value.split(" ", 1)[1])
        if params.get("algorithm", "MD5").upper() == algorithm:
            return params
    raise AssertionError(f"no {algorithm} challenge in {response.to_bytes()!r}")


def _params(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in _split(text):
        name, _, value = part.strip().partition("=")
        out[name.lower()] = value.strip().strip('"')
    return out


def _split(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def authorization(
    challenge: dict[str, str], username: str, password: str, uri: str, nc: int,
    method: str = "REGISTER", algorithm: str = "MD5", cnonce: str = "0a4f113b",
) -> str:  # fmt: skip
    name = _HASHES[algorithm]

    def h(text: str) -> str:
        return hashlib.new(name, text.encode()).hexdigest()

    realm, nonce = challenge["realm"], challenge["nonce"]
    ha1 = h(f"{username}:{realm}:{password}")
    count = f"{nc:08x}"
    response = h(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{h(f'{method}:{uri}')}")
    return (
        f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}",'
        f' response="{response}", algorithm={algorithm}, qop=auth, nc={count},'
        f' cnonce="{cnonce}", opaque="{challenge.get("opaque", "")}"'
    )


@dataclass
class Phone:
    """One UA on its own socket (UDP, or one TCP connection for ``tcp``)."""

    port: int
    user: str
    domain: str
    transport: str = "udp"
    host: str = "127.0.0.1"  # the edge's address
    bind: str = "127.0.0.1"  # the phone's (any 127.0.0.0/8 address on Linux)
    call_id: str = field(default_factory=lambda: secrets.token_hex(8))
    cseq: int = 0
    sock: Any = None
    parser: StreamParser = field(default_factory=StreamParser)

    def __post_init__(self) -> None:
        if self.transport == "tcp":
            self.sock = socket.create_connection(
                (self.host, self.port), timeout=TIMEOUT, source_address=(self.bind, 0)
            )
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((self.bind, 0))
            self.sock.settimeout(TIMEOUT)

    @property
    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()

    def register(
        self, *, contact: str | None = "default", expires: int | None = None,
        authorization: str | None = None, extra: str = "", branch: str | None = None,
        to_user: str | None = None,
    ) -> bytes:  # fmt: skip
        self.cseq += 1
        via = "TCP" if self.transport == "tcp" else "UDP"
        if contact == "default":
            contact = f"<sip:{self.user}@{self.bind}:{self.local_port};transport={self.transport}>"
        branch = branch or "z9hG4bK" + secrets.token_hex(6)
        lines = [
            f"REGISTER sip:{self.domain} SIP/2.0",
            f"Via: SIP/2.0/{via} {self.bind}:{self.local_port};branch={branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.user}@{self.domain}>;tag={self.call_id[:6]}",
            f"To: <sip:{to_user or self.user}@{self.domain}>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} REGISTER",
            "User-Agent: provedge-test-phone/1.0",
        ]
        if contact is not None:
            lines.append(f"Contact: {contact}")
        if expires is not None:
            lines.append(f"Expires: {expires}")
        if authorization is not None:
            lines.append(f"Authorization: {authorization}")
        return ("\r\n".join(lines) + "\r\n" + extra + "Content-Length: 0\r\n\r\n").encode()

    def send(self, data: bytes) -> None:
        if self.transport == "tcp":
            self.sock.sendall(data)
        else:
            self.sock.sendto(data, (self.host, self.port))

    def receive(self) -> Message:
        if self.transport == "tcp":
            while True:
                messages = self.parser.feed(self.sock.recv(65535) or b"")
                if messages:
                    return messages[0]
        return parse(self.sock.recv(65535))

    def exchange(self, data: bytes) -> Message:
        self.send(data)
        return self.receive()

    def login(
        self, password: str, expires: int | None = None, algorithm: str = "MD5",
        contact: str | None = "default",
    ) -> Message:  # fmt: skip
        """REGISTER, answer the challenge, return the final response."""
        first = self.exchange(self.register(contact=contact, expires=expires))
        if first.status != 401:
            return first
        challenge = challenge_params(first, algorithm)
        auth = authorization(
            challenge, self.user, password, f"sip:{self.domain}", 1, algorithm=algorithm
        )
        return self.exchange(self.register(contact=contact, expires=expires, authorization=auth))
