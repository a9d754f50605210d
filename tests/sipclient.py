"""A small SIP user agent for tests: REGISTER over UDP or TCP with a digest answer.

It computes the digest response the way RFC 7616 does, independently of the edge's own
code, so a test proves the registrar interoperates rather than agrees with itself.
"""

from __future__ import annotations

import hashlib
import re
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
        params = parse_challenge(value)
        if params.get("algorithm", "MD5").upper() == algorithm:
            return params
    raise AssertionError(f"no {algorithm} challenge in {response.to_bytes()!r}")


_PARAM = re.compile(r'([A-Za-z][\w-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)')


def parse_challenge(value: str) -> dict[str, str]:
    """The parameters of one ``WWW-Authenticate: Digest ...`` value, names in lower case
    (quoted values unquoted, escapes kept as sent)."""
    _scheme, _, text = value.partition(" ")
    return {name.lower(): raw.strip('"') for name, raw in _PARAM.findall(text)}


def ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    return _h(algorithm, f"{username}:{realm}:{password}")


def _h(algorithm: str, text: str) -> str:
    return hashlib.new(_HASHES[algorithm], text.encode()).hexdigest()


def authorization(
    challenge: dict[str, str], username: str, password: str, uri: str, nc: int,
    method: str = "REGISTER", algorithm: str = "MD5", cnonce: str = "0a4f113b",
    secret: str | None = None,
) -> str:  # fmt: skip
    """The ``Authorization`` value answering ``challenge`` (qop=auth, nonce count ``nc``).
    ``secret``: the account's HA1 for the challenge's realm, when the caller has it (a
    load driver computes it once per account), instead of hashing ``password`` again."""
    realm, nonce = challenge["realm"], challenge["nonce"]
    key = secret if secret is not None else ha1(username, realm, password, algorithm)
    count = f"{nc:08x}"
    ha2 = _h(algorithm, f"{method}:{uri}")
    response = _h(algorithm, f"{key}:{nonce}:{count}:{cnonce}:auth:{ha2}")
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
