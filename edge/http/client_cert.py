"""The MAC a phone's client certificate names, and whether it may fetch a file.

Several vendors ship phones with a factory certificate whose subject CN or a
subjectAltName carries the MAC, in whatever notation the vendor likes
(``001565AABBCC``, ``00:15:65:aa:bb:cc``, ``SEP001565AABBCC``, ``urn:...:001565aabbcc``).
With ``--tls-client-ca`` the edge takes that MAC (edge/http/protocol.py) and serves a
per-MAC file only to the phone it names; a common file to any verified phone.
"""

from __future__ import annotations

import re
from typing import Any

from edge.http.app import PREFIX
from edge.http.routing import classify

# Twelve hex digits bare (``SEP001565AABBCC``: letters before are fine), in pairs with one
# separator (``00:15:65:aa:bb:cc``, ``00-15-...``) or in dotted fours (``0015.65aa.bbcc``);
# a separated form must not be the tail of a longer one, nor start inside a word
# (``mac:00:04:...`` is ``00:04:...``, not ``ac:00:...``).
_MAC = re.compile(
    r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])"
    r"|(?<![0-9a-z])(?<![^0-9a-z][0-9a-f]{2}[:\-])(?<!^[0-9a-f]{2}[:\-])[0-9a-f]{2}([:\-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}(?![0-9a-f]|[:\-][0-9a-f])"
    r"|(?<![0-9a-z])(?<![^0-9a-z][0-9a-f]{4}\.)(?<!^[0-9a-f]{4}\.)[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}(?![0-9a-f]|\.[0-9a-f])",
    re.IGNORECASE,
)


def mac_of(cert: dict[str, Any] | None) -> str | None:
    """The MAC in a peer certificate (``SSLObject.getpeercert()``): CN first, then SANs."""
    if not cert:
        return None
    names = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
    names += [value for _, value in cert.get("subjectAltName", ())]
    for name in names:
        for found in _MAC.finditer(str(name)):
            return re.sub(r"[:\-.]", "", found.group(0)).lower()
    return None


def allows(cert_mac: str | None, path: str) -> bool:
    """Whether a phone whose certificate names ``cert_mac`` may fetch ``path``: a per-MAC
    file only its own MAC's; anything else (a common file, a miss) is ``answer``'s."""
    _, _, file_name = path[len(PREFIX) :].partition("/")
    ref = classify(file_name)
    return ref is None or ref.mac is None or ref.mac == cert_mac
