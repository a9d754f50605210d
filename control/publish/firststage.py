"""The first stage of device_credentials delivery, in each vendor's own format.

What an unauthenticated request for a device's file gets, once per provisioning cycle
(docs/delivery.md): nothing but the device's fetch credentials and the authenticated
directory, in the settings where the vendor keeps its provisioning server and its
credentials. No SIP password, no admin password, no line. Where each vendor keeps them
(shared reference vendors.md and vendor-settings-audit.md, "HTTP auth" of each family):

- Yealink: ``static.auto_provision.server.url`` / ``.username`` / ``.password``
  (vendors.md 1.1, FPBX y000000000096.cfg).
- Polycom: ``device.prov.serverType`` / ``serverName`` / ``user`` / ``password`` with
  ``device.set`` (vendors.md 1.2 "credentials in the boot server URL or device
  settings"; the device.prov.* names and serverType 2 = HTTP, 3 = HTTPS from the UC admin
  guide, weak here).
- Cisco SPA/MPP: ``Profile_Rule_B`` with the ``[--uid u --pwd p]`` qualifiers
  (vendors.md 1.3, MPP); the password goes in ``GPP_B`` and the rule names it ``$B``
  (the general-purpose parameters' macros, Cisco provisioning guide; weak here), as the
  common file's rules do, so a resync never drops it.
- Grandstream: P237 config server path (no scheme), P212 protocol (1 HTTP, 2 HTTPS),
  P1359 / P1360 HTTP user name and password (vendors.md 1.4 names the web UI fields;
  the P-numbers are weak).
- Snom: ``setting_server`` with ``http://user:pass@host/...`` (vendors.md 1.5; its
  ``http_user`` / ``http_pass`` are the web UI's login, vendor-settings-audit.md).
- Fanvil: ``Download_Username`` / ``Download_Password`` / ``Download_Server_IP`` /
  ``Config_File_Name`` (vendors.md 1.6, Wazo base.tpl; inside ``<sysConf>`` as Wazo's
  base-new.tpl has it, weak).

The first stage is served under the vendor's file that carries the secrets, so the phone
reaches it by its ordinary chain: Yealink ``<mac>.cfg`` (its ``<mac>.boot`` is a miss, and
the phone falls back to the common file and ``<mac>.cfg``), Polycom ``<mac>-user.cfg``
(after the default master ``000000000000.cfg``), Cisco ``<mac>.xml``, Grandstream
``cfg<mac>.xml``, Snom ``snom<model>-<MAC>.htm``, Fanvil ``<mac>.cfg``.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from control.domain.catalog import TEXT, XML, Model
from control.domain.variables import CISCO_CREDENTIALS, with_login

# Vendors whose User-Agent carries the phone's MAC (vendors.md, summary table): for them
# ua_mac_match applies; for the others it cannot and is not checked.
UA_CARRIES_MAC = frozenset({"yealink", "cisco-spa", "cisco-mpp", "grandstream", "snom", "fanvil"})


def file_name(model: Model, mac: str) -> str:
    vendor = model.vendor.id
    params = model.file_params(mac)
    if vendor == "polycom":
        return f"{mac}-user.cfg"
    if vendor == "snom":
        return f"snom{params['snom_model']}-{mac.upper()}.htm".lower()
    if vendor == "grandstream":
        return f"cfg{mac}.xml"
    if vendor in ("cisco-spa", "cisco-mpp"):
        return f"{mac}.xml"
    return f"{mac}.cfg"  # Yealink, Fanvil


def render(model: Model, mac: str, auth_url: str, password: str) -> tuple[str, str, bytes]:
    """(file name, content type, body) of ``mac``'s first stage; ``auth_url`` the
    authenticated directory (ending in ``/``), the user name is the MAC."""
    vendor = model.vendor.id
    name = file_name(model, mac)
    if vendor == "yealink":
        text = (
            "#!version:1.0.0.1\n"
            "## provedge first stage: where and how to fetch the configuration\n"
            f"static.auto_provision.server.url = {auth_url}\n"
            f"static.auto_provision.server.username = {mac}\n"
            f"static.auto_provision.server.password = {password}\n"
        )
        return name, TEXT, text.encode()
    if vendor == "polycom":
        scheme, _, rest = auth_url.partition("://")
        body = _xml(
            "<polycomConfig",
            '  device.set="1"',
            '  device.prov.serverType.set="1"',
            f'  device.prov.serverType="{3 if scheme == "https" else 2}"',
            '  device.prov.serverName.set="1"',
            f"  device.prov.serverName={quoteattr(auth_url)}",
            '  device.prov.user.set="1"',
            f"  device.prov.user={quoteattr(mac)}",
            '  device.prov.password.set="1"',
            f"  device.prov.password={quoteattr(password)}/>",
            standalone=True,
        )
        return name, XML, body
    if vendor in ("cisco-spa", "cisco-mpp"):
        rule = f"{CISCO_CREDENTIALS}{auth_url}$MA.xml"  # as the common file writes it
        body = _xml(
            "<flat-profile>",
            f"  <GPP_B>{escape(password)}</GPP_B>",
            f"  <Profile_Rule_B>{escape(rule)}</Profile_Rule_B>",
            "  <Resync_On_Reset>Yes</Resync_On_Reset>",
            "</flat-profile>",
        )
        return name, XML, body
    if vendor == "grandstream":
        scheme, _, rest = auth_url.partition("://")
        body = _xml(
            '<gs_provision version="1">',
            f"  <mac>{mac}</mac>",
            '  <config version="1">',
            f"    <P212>{2 if scheme == 'https' else 1}</P212>",
            f"    <P237>{escape(rest)}</P237>",
            f"    <P1359>{mac}</P1359>",
            f"    <P1360>{escape(password)}</P1360>",
            "  </config>",
            "</gs_provision>",
        )
        return name, XML, body
    if vendor == "snom":
        server = with_login(auth_url, mac, password)  # as its device file writes it too
        body = _xml(
            "<settings>",
            "  <phone-settings>",
            f'    <setting_server perm="R">{escape(server)}</setting_server>',
            "  </phone-settings>",
            "</settings>",
        )
        return name, XML, body
    if vendor == "fanvil":
        body = _xml(
            "<sysConf>",
            "  <Version>2.0000000000</Version>",
            "  <AUTOUPDATE_CONFIG_MODULE>",
            f"    <Download_Username>{mac}</Download_Username>",
            f"    <Download_Password>{escape(password)}</Download_Password>",
            f"    <Download_Server_IP>{escape(auth_url)}</Download_Server_IP>",
            "    <Config_File_Name>$mac.cfg</Config_File_Name>",
            "  </AUTOUPDATE_CONFIG_MODULE>",
            "</sysConf>",
        )
        return name, XML, body
    raise ValueError(f"no first stage for vendor {vendor}")


def _xml(*lines: str, standalone: bool = False) -> bytes:
    head = '<?xml version="1.0" encoding="UTF-8"{}?>'.format(
        ' standalone="yes"' if standalone else ""
    )
    return "\n".join(
        (head, "<!-- provedge first stage: fetch credentials only -->", *lines, "")
    ).encode()
