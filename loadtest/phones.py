"""The phone list that ``provedge loadtest seed`` writes, as the load tools read it."""

from __future__ import annotations

import csv
import ipaddress
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: where load tests may send."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load(path: str) -> list[dict[str, str]]:
    """The rows of the phone list; SystemExit when one points off this host."""
    with open(path, newline="") as text:
        rows = list(csv.DictReader(text))
    for row in rows:
        if urlsplit(row["url"]).hostname not in LOOPBACK:
            raise SystemExit(f"{row['url']}: load tests go to loopback only")
    return rows
