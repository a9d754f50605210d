"""The edge's HTTP side: the decision for config files, Starlette for the rest.

``GET``/``HEAD /p/{tenant_key}/{file}`` is answered straight from LMDB by ``answer``: one
read transaction, headers that were computed at publish time, no routing framework on
the way, no transport either (edge/http/protocol.py carries the answer).
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

from edge.http.answers import Answers, Served
from edge.http.metrics import Meter, render
from edge.http.provision_limits import ProvisionLimits
from edge.http.routing import classify
from edge.sip import pnp
from edge.sip.firewall import Firewall
from edge.sip.flows import FlowLimits, FlowTable
from edge.sip.reboot import RebootSender
from edge.sip.registrar import Registrar
from edge.sip.transport import FirewallLike, NoFirewall, SipContext, SipEndpoint
from edge.state.recorder import Recorder
from provedge.formats import store

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body

PREFIX = "/p/"
_NOT_FOUND = b"Not Found\n"
_NOT_FOUND_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_NOT_FOUND)).encode()),
    (b"cache-control", b"no-store"),
]
_NOT_ALLOWED_HEADERS = [(b"allow", b"GET, HEAD"), (b"content-length", b"0")]
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
    ) -> None:
        self._env = env
        self._provision_limits = provision_limits
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
    ) -> Answer:
        """The answer to one /p/ request, whatever server carries it: status, headers, body.

        Transport-free on purpose: it is the one place that decides what a phone gets."""
        if method != "GET" and method != "HEAD":
            # Polycom PUTs its logs; refuse quietly without reading the body.
            return 405, _NOT_ALLOWED_HEADERS, b""
        found = self.lookup(path)
        if found is None:
            return _not_found(method)
        mac, served = found
        limited = self._provision_limits
        if mac is not None and limited is not None and limited.reached(mac):
            # Past its tenant's provision limit: the 404 of any miss, until a reset.
            return _not_found(method)
        if mac is not None and method == "GET" and self._recorder is not None:
            self._recorder.fetch(mac, client, agent)
        blob = served.blob
        if _matches(if_none_match, blob.etag):
            return 304, served.not_modified, b""
        return 200, served.ok, b"" if method == "HEAD" else blob.body

    def lookup(self, path: str) -> tuple[str | None, Served] | None:
        """The blob a path names (with its answers' headers), with the MAC its file name
        carries (None: a common file)."""
        tenant_key, sep, file_name = path[len(PREFIX) :].partition("/")
        ref = classify(file_name) if sep and tenant_key else None
        if ref is None:
            return None
        with self._env.begin(db=self._blobs, buffers=True) as txn:
            key = store.blob_key(tenant_key, file_name)
            raw = txn.get(key)
            # Decoded inside the transaction: the buffer is only valid until it ends.
            return None if raw is None else (ref.mac, self._answers.get(key, raw))

    def is_scan(self, path: str) -> bool:
        """Whether a missed path is what a scanner asks and a phone never does: a tenant
        key that does not exist, or a MAC the tenant has no device for. A known phone
        asking for an optional file it has not got (Polycom's <mac>-directory.xml, a
        common file of a model the tenant lacks) is not, so a NATed office booting at
        once never adds up to a ban."""
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


not_found = _not_found  # for the server's client-certificate check (edge/http/protocol.py)


def forbidden(method: str) -> Answer:
    """The answer to every request from a banned address."""
    return 403, _FORBIDDEN_HEADERS, b"" if method == "HEAD" else _FORBIDDEN
