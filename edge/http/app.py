"""The edge's HTTP side: the decision for config files, Starlette for the rest.

``GET``/``HEAD /p/{tenant_key}/{file}`` is answered straight from LMDB by ``answer``: the
turn's read transaction (edge/http/reads.py), headers that were computed at publish time,
no routing framework on the way, no transport either (edge/http/protocol.py carries the
answer).
Every miss (unknown tenant key, unknown MAC, unknown file, odd name) gets the same 404, so
an answer never tells a scanner whether a MAC exists.

A ``GET`` answered 200 or 304 for a per-MAC file is noted for the device's fetch counters
(edge/state/recorder.py: an append to a list; the batching happens off the request path).

A source address the firewall has banned (edge/sip/firewall.py; the same bans as SIP) gets
``403 Forbidden`` for every HTTP request, before anything else is looked at: one call,
``firewall.banned(host)``, a dict lookup (the server asks it, edge/http/protocol.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import lmdb
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge.http import delivery as policy
from edge.http.answers import Answers, Served
from edge.http.delivery import Delivery
from edge.http.metrics import Meter, render
from edge.http.provision_limits import ProvisionLimits
from edge.http.reads import Reads
from edge.http.routing import classify
from edge.sip import pnp
from edge.sip.firewall import Firewall
from edge.sip.flows import FlowLimits, FlowTable
from edge.sip.reboot import RebootSender
from edge.sip.registrar import Registrar
from edge.sip.transport import FirewallLike, NoFirewall, SipContext, SipEndpoint
from edge.state.recorder import Recorder
from provedge.formats import delivery, store

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body

PREFIX = "/p/"
_NOT_FOUND = b"Not Found\n"
_NOT_FOUND_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_NOT_FOUND)).encode()),
    (b"cache-control", b"no-store"),
]
_NOT_ALLOWED_HEADERS = [(b"allow", b"GET, HEAD"), (b"content-length", b"0")]
_UNAUTHORIZED = b"Unauthorized\n"
_UNAUTHORIZED_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_UNAUTHORIZED)).encode()),
    (b"cache-control", b"no-store"),
]
_FORBIDDEN = b"Forbidden\n"
_FORBIDDEN_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_FORBIDDEN)).encode()),
    (b"cache-control", b"no-store"),
]


class EdgeApp:
    def __init__(
        self,
        env: lmdb.Environment,
        sip: tuple[str, int] | None = None,
        recorder: Recorder | None = None,
        meter: Meter | None = None,
        firewall: FirewallLike | None = None,
        pnp_multicast: bool = False,
        registrar: Registrar | None = None,
        flow_limits: FlowLimits | None = None,
        reboot: RebootSender | None = None,
        provision_limits: ProvisionLimits | None = None,
        delivery: Delivery | None = None,
        reads: Reads | None = None,
    ) -> None:
        self._env = env
        self._reads = reads or Reads(env)  # shared with delivery and limits (worker.py)
        self._provision_limits = provision_limits
        self._delivery = delivery
        self._blobs = env.open_db(store.BLOBS_DB)
        self._index = env.open_db(store.INDEX_DB)
        self._answers = Answers()
        self._sip = sip
        self._recorder = recorder
        self.firewall = firewall or NoFirewall()
        self._pnp_multicast = pnp_multicast
        self.registrar = registrar
        self.flows = FlowTable(flow_limits)
        self.reboot = reboot
        if registrar is not None:
            registrar.failure = self.firewall.failure
        self.meter = meter or Meter()
        if recorder is not None:
            self.meter.stats = recorder.stats
        # Everything that is not /p/ (edge/http/bridge.py carries it there).
        self.fallback = Starlette(
            routes=[Route("/healthz", self.healthz), Route("/metrics", self.metrics)]
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The SIP listeners and the recorder's timer live as long as the HTTP server
        (entered by each worker before it listens, edge/http/worker.py)."""
        async with contextlib.AsyncExitStack() as stack:
            if self._provision_limits is not None:
                stack.callback(self._provision_limits.close)
            if self._recorder is not None:
                self._recorder.start()
                stack.callback(self._recorder.stop)  # the last batch goes at shutdown
            self.meter.start()
            stack.callback(self.meter.stop)  # after the recorder's: its last counts too
            if isinstance(self.firewall, Firewall):
                self.firewall.start()
                stack.callback(self.firewall.stop)  # its last failures go at shutdown
            if self._sip is not None:
                firewall = self.firewall
                plug = pnp.PlugAndPlay(pnp.Directory(self._env), firewall.failure)
                registrar = self.registrar
                if registrar is not None:
                    registrar.store.start()
                    stack.callback(registrar.store.stop)  # its last changes go at shutdown
                context = SipContext(
                    firewall, plug, registrar, self.flows, self.reboot, self.meter.sip
                )
                endpoint = await SipEndpoint.start(*self._sip, context, self._pnp_multicast)
                stack.push_async_callback(endpoint.stop)
                if self.reboot is not None:
                    self.reboot.start()
                    stack.callback(self.reboot.stop)  # before the endpoint closes
            yield

    def account(
        self, status: int, path: str, client: tuple[str, int] | None, agent: bytes | None,
        started: float,
    ) -> None:  # fmt: skip
        """What follows an answer once it has left: a scan counted, the metrics observed."""
        if status == 404 and client and self.is_scan(path):
            # The same 404 for every miss; whether it counts is decided after it left.
            self.firewall.failure(client[0], "scan")
        meter = self.meter
        meter.observe(status, meter.vendor(agent), time.perf_counter() - started)

    def answer(
        self,
        method: str,
        path: str,
        client: tuple[str, int] | None,
        if_none_match: bytes | None,
        agent: bytes | None,
        authorization: bytes | None = None,
        secure: bool = False,
    ) -> Answer:
        """The answer to one /p/ request, whatever server carries it: status, headers, body.

        Transport-free on purpose: it is the one place that decides what a phone gets.
        ``authorization`` is the request's Authorization header; ``secure`` whether it
        came over TLS (Basic credentials are refused without it)."""
        if method != "GET" and method != "HEAD":
            # Polycom PUTs its logs; refuse quietly without reading the body.
            return 405, _NOT_ALLOWED_HEADERS, b""
        rules = self._delivery
        if rules is not None and policy.is_second_stage(path):
            return self._second_stage(method, path, client, if_none_match, agent,
                                      authorization, secure)  # fmt: skip
        found = self.lookup(path)
        if found is None:
            ref = classify(path.rpartition("/")[2])
            if ref is not None and ref.mac is not None:
                # The reads a known MAC's refusal makes: every miss takes the same time.
                self._checks(ref.mac)
            return _not_found(method)
        mac, served = found
        if mac is not None:
            rule, limited = self._checks(mac)
            if limited or (rule is not None and rule.ua_mac and not policy.ua_matches(agent, mac)):
                # Past its tenant's provision limit, or another MAC's User-Agent: the 404
                # of any miss (a limit until a reset).
                return _not_found(method)
            if rule is not None and rule.credentials:
                return self._first_stage(method, path, mac, rule, client, agent)
        return self._deliver(method, mac, served, client, if_none_match, agent)

    def _checks(self, mac: str) -> tuple[delivery.Rule | None, bool]:
        """The MAC's delivery rule (None: plain keyed_url) and whether its provision
        limit is reached."""
        return None if self._delivery is None else self._delivery.rule(mac), self._limited(mac)

    def _limited(self, mac: str) -> bool:
        limited = self._provision_limits
        return limited is not None and limited.reached(mac)

    def _deliver(
        self, method: str, mac: str | None, served: Served, client: tuple[str, int] | None,
        if_none_match: bytes | None, agent: bytes | None,
    ) -> Answer:  # fmt: skip
        if mac is not None and method == "GET" and self._recorder is not None:
            self._recorder.fetch(mac, client, agent)
        blob = served.blob
        if _matches(if_none_match, blob.etag):
            return 304, served.not_modified, b""
        return 200, served.ok, b"" if method == "HEAD" else blob.body

    def _first_stage(
        self, method: str, path: str, mac: str, rule: delivery.Rule,
        client: tuple[str, int] | None, agent: bytes | None,
    ) -> Answer:  # fmt: skip
        """A device under device_credentials, unauthenticated: its first stage once per
        cycle, for the one file name it is published under; any other answer is a miss.
        HEAD never gets it (it would tell a scanner the claim is still open)."""
        assert self._delivery is not None
        name = path.rpartition("/")[2].lower()
        if method != "GET" or name != rule.first_name or not self._delivery.claim(mac, rule.cycle):
            return _not_found(method)
        first = store.decode_blob(rule.first_blob)
        if self._recorder is not None:
            self._recorder.fetch(mac, client, agent)
        headers = [
            (b"content-type", first.content_type),
            (b"content-length", str(len(first.body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        return 200, headers, first.body

    def _second_stage(
        self, method: str, path: str, client: tuple[str, int] | None,
        if_none_match: bytes | None, agent: bytes | None, authorization: bytes | None,
        secure: bool,
    ) -> Answer:  # fmt: skip
        """``/p/<key>/auth/<file>``: a common file as anywhere; a per-MAC name (known or
        not, so the answer tells nothing) only with the device's credentials."""
        rules = self._delivery
        assert rules is not None
        plain = policy.first_path(path)
        ref = classify(plain.rpartition("/")[2])
        if ref is None:
            return _not_found(method)
        found = self.lookup(plain)
        if ref.mac is None:
            return _not_found(method) if found is None else self._deliver(
                method, None, found[1], client, if_none_match, agent
            )  # fmt: skip
        rule = rules.rule(ref.mac)  # read for an unknown MAC too: the same time
        if found is None:
            rule = None  # a MAC of another tenant, or none: a made-up HA1
        verdict = rules.check(authorization, method, path, ref.mac, rule, secure)
        if not verdict.ok:
            if verdict.failed:
                reason: str | None = "fetch credentials"
            else:
                # A challenge or a stale nonce: a miss when the same name outside auth/
                # would be one (a probe of a MAC or tenant key that does not exist), never
                # for a known phone's first request. Asked for known MACs too: same cost.
                reason = "scan" if self.is_scan(path) else None
            if reason is not None and client:
                self.firewall.failure(client[0], reason)
            return _unauthorized(method, rules.challenge(verdict.stale))
        assert found is not None and rule is not None  # only a known device's verify
        if rule.ua_mac and not policy.ua_matches(agent, ref.mac):
            return _not_found(method)
        if self._limited(ref.mac):
            return _not_found(method)
        return self._deliver(method, ref.mac, found[1], client, if_none_match, agent)

    def lookup(self, path: str) -> tuple[str | None, Served] | None:
        """The blob a path names (with its answers' headers), with the MAC its file name
        carries (None: a common file)."""
        tenant_key, sep, file_name = path[len(PREFIX) :].partition("/")
        ref = classify(file_name) if sep and tenant_key else None
        if ref is None:
            return None
        txn = self._reads.txn()
        key = store.blob_key(tenant_key, file_name)
        raw = txn.get(key, db=self._blobs)
        # Decoded inside the transaction: the buffer is only valid until it ends.
        return None if raw is None else (ref.mac, self._answers.get(key, raw))

    def is_scan(self, path: str) -> bool:
        """Whether a missed path is what a scanner asks and a phone never does: a tenant
        key that does not exist, or a MAC the tenant has no device for. A known phone
        asking for an optional file it has not got (Polycom's <mac>-directory.xml, a
        common file of a model the tenant lacks) is not, so a NATed office booting at
        once never adds up to a ban. A second-stage path counts as its first's."""
        if policy.is_second_stage(path):
            path = policy.first_path(path)
        tenant_key, _, file_name = path[len(PREFIX) :].partition("/")
        prefix = f"{tenant_key}/".encode()
        with self._env.begin(buffers=True) as txn:
            cursor = txn.cursor(db=self._blobs)
            if not tenant_key or not cursor.set_range(prefix):
                return True
            if not bytes(cursor.key()).startswith(prefix):
                return True  # no such tenant key
            ref = classify(file_name)
            if ref is None or ref.mac is None:
                return ref is None  # not a provisioning file name at all: probing
            published = txn.get(f"device/{ref.mac}".encode(), db=self._index)
            return published is None or prefix not in bytes(published)

    async def healthz(self, request: Request) -> JSONResponse:
        with self._env.begin(db=self._blobs) as txn:
            files = txn.stat(self._blobs)["entries"]
        loop = type(asyncio.get_running_loop()).__module__.split(".")[0]  # uvloop or asyncio
        body: dict[str, Any] = {"status": "ok", "files": files, "pid": os.getpid(), "loop": loop}
        if self._recorder is not None:
            body["edge_state"] = self._recorder.stats()
        if isinstance(self.firewall, Firewall):
            body["firewall"] = self.firewall.stats()
        return JSONResponse(body)

    async def metrics(self, request: Request) -> Response:
        """Prometheus text format, every worker's counts summed (edge/http/metrics.py)."""
        return Response(render(self.meter.snapshots()), media_type=CONTENT_TYPE_LATEST)


def _matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")]
    return etag in tags or b"*" in tags


def _not_found(method: str) -> Answer:
    """The one 404 of every miss, whatever its reason."""
    return 404, _NOT_FOUND_HEADERS, b"" if method == "HEAD" else _NOT_FOUND


def _unauthorized(method: str, challenges: list[tuple[bytes, bytes]]) -> Answer:
    """The second stage's 401: a Digest challenge per algorithm, the same for every MAC."""
    headers = [*challenges, *_UNAUTHORIZED_HEADERS]
    return 401, headers, b"" if method == "HEAD" else _UNAUTHORIZED


not_found = _not_found  # for the server's client-certificate check (edge/http/protocol.py)


def forbidden(method: str) -> Answer:
    """The answer to every request from a banned address."""
    return 403, _FORBIDDEN_HEADERS, b"" if method == "HEAD" else _FORBIDDEN
