"""Request bodies of the control API, validated by pydantic.

pydantic gives us field-by-field errors (each bad field named, all at once) and the JSON
Schemas the OpenAPI document is built from, so one declaration serves both.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from control.domain.catalog import MODELS
from provedge.formats.macaddr import InvalidMac, normalize_mac

HOST = r"^[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*$|^\[?[0-9A-Fa-f:.]+\]?$"
USERNAME = r"^[A-Za-z0-9][A-Za-z0-9._+\-]{0,63}$"
NUMBER = r"^[0-9*#+]{1,32}$"
PIN = r"^[0-9]{4,8}$"

Host = Annotated[str, Field(pattern=HOST, max_length=253, examples=["pbx.example.com"])]
TenantRef = Annotated[int | str, Field(description="tenant id or name", examples=[1])]
Text = Annotated[str, Field(max_length=128)]
Url = Annotated[str, Field(max_length=2048, pattern=r"^(https?://\S+)?$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TenantIn(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=128, examples=["acme"])]
    realm: Host
    sip_server: Host
    sip_port: Annotated[int, Field(ge=1, le=65535)] = 5060
    sip_transport: Literal["udp", "tcp", "tls"] = "udp"
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    ntp_server: Host = "pool.ntp.org"
    language: Annotated[str, Field(min_length=1, max_length=32)] = "English"


class TenantPatch(_Strict):
    realm: Host | None = None
    sip_server: Host | None = None
    sip_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    sip_transport: Literal["udp", "tcp", "tls"] | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    ntp_server: Host | None = None
    language: Annotated[str, Field(min_length=1, max_length=32)] | None = None


def _mac(value: str) -> str:
    try:
        return normalize_mac(value)
    except InvalidMac:
        raise ValueError(
            "not a MAC address (12 hex digits; colons, dashes, dots or none)"
        ) from None


def _model(value: str) -> str:
    model = value.lower()
    if model not in MODELS:
        raise ValueError("unknown model; GET /api/v1/models lists them")
    return model


class DeviceIn(_Strict):
    tenant: TenantRef
    mac: Annotated[str, Field(examples=["00:15:65:aa:bb:cc"])]
    model: Annotated[str, Field(examples=["yealink-t46s"])]
    name: Text = ""
    background_url: Url = ""
    hotdesk_pin: Annotated[str, Field(pattern=r"^([0-9]{4,8})?$")] = ""

    _check_mac = field_validator("mac")(_mac)
    _check_model = field_validator("model")(_model)


class DevicePatch(_Strict):
    model: str | None = None
    name: Text | None = None
    background_url: Url | None = None
    hotdesk_pin: Annotated[str, Field(pattern=r"^([0-9]{4,8})?$")] | None = None
    admin_password: Annotated[str, Field(min_length=8, max_length=64)] | None = None

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str | None) -> str | None:
        return None if value is None else _model(value)


class AccountIn(_Strict):
    tenant: TenantRef
    username: Annotated[str, Field(pattern=USERNAME)] | None = None
    password: Annotated[str, Field(min_length=8, max_length=128)] | None = None
    display_name: Text = ""
    expires: Annotated[int, Field(ge=30, le=86400)] = 360


class ExtensionIn(_Strict):
    tenant: TenantRef
    number: Annotated[str, Field(pattern=NUMBER, examples=["1001"])]
    display_name: Text = ""
    accounts: Annotated[
        list[Annotated[str, Field(pattern=USERNAME)]], Field(min_length=1, max_length=8)
    ]

    @field_validator("accounts")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("an account may be listed once")
        return value


class LineIn(_Strict):
    extension: Annotated[str, Field(pattern=NUMBER)]
