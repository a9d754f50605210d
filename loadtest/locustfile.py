"""Phones booting like phones: one locust user class per vendor family, three load shapes.

Each user is one phone of the phone list that ``provedge loadtest seed`` writes (CSV:
MAC, model, vendor, User-Agent, boot files, SIP account, password, provisioning URL, SIP
server). Its task is that phone's boot: every file of its chain in order, with its real
User-Agent and, for a file it fetched before, ``If-None-Match`` with the ETag it saw, so
an unchanged file answers 304. 200 and 304 are successes; anything else is a failure.
Requests are named ``<vendor> <n>`` (the n-th file of that vendor's chain) so the report
shows each step. After a boot the phone waits ``LOADTEST_RESYNC`` seconds and re-syncs
(the same chain, now conditional).

With ``LOADTEST_SIP`` (the edge's SIP ``HOST:PORT``, loopback only) a phone registers
after its files the way it does after a boot: REGISTER, the 401 challenge, REGISTER with
its digest credentials, 200, over UDP from a socket of its own. Locust reports it as its
own request type, ``SIP`` ``REGISTER`` (the time from the first REGISTER to the 200).

The shape comes from ``LOADTEST_SHAPE`` (one LoadTestShape class is active, the others
are abstract):

- ``storm``: every phone boots within ``LOADTEST_WINDOW`` seconds (a mass reboot);
- ``waves``: ``LOADTEST_WAVE`` phones every ``LOADTEST_WAVE_EVERY`` seconds (a reboot
  job pacing its waves);
- ``steady``: every phone up within ``LOADTEST_WINDOW`` s, then re-sync polling.

Each run ends after ``LOADTEST_DURATION`` seconds. Settings (environment): see
``SETTINGS`` below and the README's "Load tests" section.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

from locust import FastHttpUser, LoadTestShape, constant, task

from loadtest import phones
from loadtest.register import Phone as SipPhone

SIP_TIMEOUT_S = 5.0

SETTINGS = {
    "LOADTEST_PHONES": "loadtest/results/phones.csv",  # the phone list from the seed
    "LOADTEST_SHAPE": "storm",  # storm | waves | steady
    "LOADTEST_WINDOW": "10",  # seconds in which every phone boots (storm, steady)
    "LOADTEST_DURATION": "20",  # seconds the run lasts
    "LOADTEST_WAVE": "0",  # phones per wave (0: a fifth of them)
    "LOADTEST_WAVE_EVERY": "4",  # seconds between waves
    "LOADTEST_RESYNC": "",  # seconds between re-syncs (default: steady 5, others 3600)
    "LOADTEST_SIP": "",  # HOST:PORT of the edge's SIP: phones register after their files
}


def setting(name: str) -> str:
    return os.environ.get(name) or SETTINGS[name]


SHAPE = setting("LOADTEST_SHAPE")
if SHAPE not in ("storm", "waves", "steady"):
    raise SystemExit(f"LOADTEST_SHAPE must be storm, waves or steady, not {SHAPE!r}")
RESYNC = float(setting("LOADTEST_RESYNC") or (5 if SHAPE == "steady" else 3600))


def load_phones(path: str) -> dict[str, list[dict[str, str]]]:
    by_vendor: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in phones.load(path):  # refuses a list that points off this host
        by_vendor[row["vendor"]].append(row)
    return dict(by_vendor)


def sip_target() -> tuple[str, int] | None:
    text = setting("LOADTEST_SIP")
    if not text:
        return None
    host, _, port = text.rpartition(":")
    if not phones.is_loopback(host) or not port.isdigit():
        raise SystemExit(f"LOADTEST_SIP {text!r}: a loopback HOST:PORT")
    return host, int(port)


SIP = sip_target()
PHONES = load_phones(setting("LOADTEST_PHONES"))
COUNT = sum(len(family) for family in PHONES.values())
HOST = "{0.scheme}://{0.netloc}".format(urlsplit(next(iter(PHONES.values()))[0]["url"]))


class Phone(FastHttpUser):
    """One phone of one vendor family; the subclasses below pick the family."""

    abstract = True
    host = HOST
    wait_time = constant(RESYNC)
    vendor = ""
    _next: Any = None  # itertools.cycle over the family's phones, per class

    def on_start(self) -> None:
        cls = type(self)
        if cls._next is None:
            cls._next = itertools.cycle(PHONES[self.vendor])
        self.phone = next(cls._next)
        self.path = urlsplit(self.phone["url"]).path
        self.etags: dict[str, str] = {}

    @task
    def boot(self) -> None:
        agent = self.phone["user_agent"]
        for step, name in enumerate(self.phone["files"].split(), start=1):
            headers = {"User-Agent": agent}
            if name in self.etags:
                headers["If-None-Match"] = self.etags[name]
            with self.client.get(
                self.path + name, headers=headers, name=f"{self.vendor} {step}",
                catch_response=True,
            ) as response:  # fmt: skip
                if response.status_code == 200:
                    self.etags[name] = response.headers.get("etag", "")
                    response.success()
                elif response.status_code == 304:
                    response.success()
                else:
                    response.failure(f"{name}: HTTP {response.status_code}")
                    return  # a phone stops its boot at the first file it cannot get
        if SIP is not None:
            self.register(SIP)

    def register(self, target: tuple[str, int]) -> None:
        """The phone's REGISTER with its challenge, reported as request type SIP."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(SIP_TIMEOUT_S)
            sip = SipPhone(self.phone, 0, sock.getsockname(), "locust", 300)
            began, error, length = time.perf_counter(), None, 0
            try:
                sock.sendto(sip.request(False), target)
                answer = sock.recv(65535)
                if answer[8:11] == b"401" and sip.take_challenge(answer, "MD5"):
                    sock.sendto(sip.request(True), target)
                    answer = sock.recv(65535)
                length = len(answer)
                if answer[8:11] != b"200":
                    error = RuntimeError(answer.split(b"\r\n", 1)[0].decode(errors="replace"))
            except OSError as exc:  # a timeout included
                error = exc
            self.environment.events.request.fire(
                request_type="SIP", name="REGISTER", response_length=length, exception=error,
                response_time=(time.perf_counter() - began) * 1000, context={},
            )  # fmt: skip


def _family(vendor: str) -> type[Phone]:
    name = "".join(part.title() for part in vendor.split("-")) + "Phone"
    attrs = {"abstract": False, "vendor": vendor, "weight": len(PHONES[vendor])}
    return type(name, (Phone,), attrs)


# One user class per vendor family in the list, weighted by its share of the phones.
for _vendor in PHONES:
    globals()[_family(_vendor).__name__] = _family(_vendor)


def _seconds(name: str) -> float:
    return float(setting(name))


class _AllWithinWindow(LoadTestShape):
    """Every phone up within the window: COUNT users spawned at COUNT/window per second."""

    abstract = True

    def tick(self) -> tuple[int, float] | None:
        if self.get_run_time() > _seconds("LOADTEST_DURATION"):
            return None
        return COUNT, COUNT / max(_seconds("LOADTEST_WINDOW"), 0.1)


class Storm(_AllWithinWindow):
    """A mass reboot: every phone boots within the window (re-syncs are an hour apart)."""

    abstract = SHAPE != "storm"


class Waves(LoadTestShape):
    """A reboot job's waves: WAVE more phones every WAVE_EVERY seconds, all at once."""

    abstract = SHAPE != "waves"

    def tick(self) -> tuple[int, float] | None:
        run = self.get_run_time()
        if run > _seconds("LOADTEST_DURATION"):
            return None
        wave = int(setting("LOADTEST_WAVE")) or max(COUNT // 5, 1)
        waves = int(run // _seconds("LOADTEST_WAVE_EVERY")) + 1
        return min(COUNT, wave * waves), float(wave)


class Steady(_AllWithinWindow):
    """Every phone up within the window, then polling every RESYNC seconds (mostly 304s)."""

    abstract = SHAPE != "steady"
