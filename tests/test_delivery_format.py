"""The delivery rule's bytes (provedge/formats/delivery.py) and the User-Agent MAC check."""

from __future__ import annotations

import pytest

from edge.http.delivery import ua_matches
from provedge.formats import delivery, store


def test_a_rule_survives_its_encoding() -> None:
    rule = delivery.Rule(
        delivery.flags_of("device_credentials+ua_mac_match"), 7,
        delivery.ha1("md5", "001565aabbcc", "pw"), delivery.ha1("sha256", "001565aabbcc", "pw"),
        delivery.basic_verifier("001565aabbcc", "pw"), "001565aabbcc.cfg",
        store.encode_blob("text/plain", b"#!version:1.0.0.1\n"),
    )  # fmt: skip
    decoded = delivery.decode(delivery.encode(rule))
    assert decoded == rule and decoded.credentials and decoded.ua_mac
    assert store.decode_blob(decoded.first_blob).body == b"#!version:1.0.0.1\n"
    with pytest.raises(ValueError):
        delivery.decode(b"\x02" + delivery.encode(rule)[1:])
    with pytest.raises(ValueError):
        delivery.decode(delivery.encode(rule)[:20])


def test_policies_and_their_flags() -> None:
    assert delivery.flags_of("keyed_url") == 0
    assert delivery.flags_of("keyed_url+ua_mac_match") == delivery.FLAG_UA_MAC
    assert delivery.flags_of("device_credentials") == delivery.FLAG_CREDENTIALS


@pytest.mark.parametrize(
    ("agent", "matches"),
    [
        (b"Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:cc", True),
        (b"Yealink SIP-T56A  58.80.0.25 001565aabbcc", True),
        (b"Cisco/SPA508G-7.4.4 (001565AABBCC)(CBT141400UK)", True),
        (b"Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 001565aabbcc", True),
        (b"Aastra6739i MAC:00-15-65-AA-BB-CC V:3.2.1.1013-SIP", True),
        (b"snomM700/03.23.0005 (MAC=001565AABBCC; SER=1)", True),
        (b"Some phone mac:00:15:65:aa:bb:cc", True),  # "ac:00:15:..." is no MAC of it
        (b"Mixed 00:15-65:aa-bb:cc", False),
        (b"Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:cd", False),
        (b"Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0", False),
        (b"Fanvil X4 2.10.2.6887 0001565aabbcc", False),  # 13 hex digits: not a MAC
        (None, False),
    ],
)
def test_the_user_agent_mac(agent: bytes | None, matches: bool) -> None:
    assert ua_matches(agent, "001565aabbcc") is matches
