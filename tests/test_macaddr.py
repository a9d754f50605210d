import pytest

from provedge.formats.macaddr import InvalidMac, colon_form, is_mac, normalize_mac


@pytest.mark.parametrize(
    "text",
    [
        "00:15:65:AA:bb:0C",
        "00-15-65-aa-BB-0c",
        "0015.65aa.bb0c",
        "001565AABB0C",
        "001565aabb0c",
        "  00:15:65:aa:bb:0c\n",
    ],
)
def test_every_common_notation_normalises_to_12_lowercase_hex(text: str) -> None:
    assert normalize_mac(text) == "001565aabb0c"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "00:15:65:aa:bb",
        "00:15:65:aa:bb:0c:11",
        "00:15:65:aa:bb:0g",
        "0:015:65:aa:bb:0c",
        "001565-aabb0c",
        "00156.5aabb0c",
        "hello world!",
    ],
)
def test_rejects_what_is_not_a_mac(text: str) -> None:
    with pytest.raises(InvalidMac):
        normalize_mac(text)
    assert not is_mac(text)


def test_colon_form() -> None:
    assert colon_form("001565aabb0c") == "00:15:65:aa:bb:0c"
