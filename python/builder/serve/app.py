"""The HTTP front every engine answers through: routes of the Open Inference Protocol, one status
code per kind of bad request (protocol.py), and the engine behind an `infer` coroutine.

`Front.answer(method, path, body, headers)` is plain async code with no web framework in it, so the same
front runs under uvicorn (Triton engine: `asgi_app`) and inside a Ray Serve ingress deployment's
`__call__` (Ray engine), and a test can call it directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import numpy as np

from builder.serve import protocol
from builder.serve.protocol import ProtocolError
from builder.serve.servables import Servable

log = logging.getLogger("deploykit.serve")

# infer(servable, parsed request, raw body) -> {output name: array}, or the response itself
# (protocol.Encoded, already in the protocol's form, e.g. an engine's own answer passed through).
# Raise ProtocolError for a request the runtime refuses (400), EngineUnavailable when no replica
# could answer (503).
Infer = Callable[[Servable, protocol.InferRequest, bytes], Awaitable[dict[str, np.ndarray] | protocol.Encoded]]


class EngineUnavailable(Exception):
    """No replica answered (it died, or the engine is still starting): HTTP 503, one line."""


class Front:
    def __init__(
        self,
        servables: list[Servable],
        infer: Infer,
        ready: Callable[[], Awaitable[bool]] | None = None,
        max_body_bytes: int = protocol.DEFAULT_MAX_BODY_BYTES,
        timeout_s: float = 30.0,
        server_version: str = "",
    ):
        self.models = {s.name: s for s in servables}
        self.infer = infer
        self.ready = ready
        self.max_body_bytes = max_body_bytes
        self.timeout_s = timeout_s
        self.server_version = server_version

    async def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        """(status, JSON body) for one request without HTTP headers; never raises."""
        status, answer = await self.answer(method, path, body)
        return status, answer.body

    async def answer(
        self, method: str, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, protocol.Encoded]:
        """(status, body) for one request; `headers`: its HTTP headers, names in lower case (the
        binary extension's Inference-Header-Content-Length). Never raises."""
        try:
            status, answer = await self._route(method, path.rstrip("/"), body, headers or {})
            return status, answer if isinstance(answer, protocol.Encoded) else protocol.Encoded(answer)
        except ProtocolError as e:
            return e.status, protocol.Encoded(protocol.error_body(e.message))
        except EngineUnavailable as e:
            return 503, protocol.Encoded(protocol.error_body(f"unavailable: {e}"))
        except TimeoutError:
            return 503, protocol.Encoded(protocol.error_body(f"no answer within {self.timeout_s:g} s; retry"))
        except Exception as e:  # a runtime failure on a valid request: the server's fault, one line
            log.exception("infer failed")
            message = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            return 500, protocol.Encoded(protocol.error_body(message))

    async def _route(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes | protocol.Encoded]:
        parts = path.strip("/").split("/")
        if parts[:1] != ["v2"]:
            raise ProtocolError(404, f"no route {path!r}: the protocol's routes start with /v2")
        rest = parts[1:]
        if rest in ([], ["health", "live"], ["health", "ready"]):
            self._method(method, "GET")
            if rest == []:
                return 200, protocol.dumps({"name": "deploykit", "version": self.server_version, "extensions": []})
            if rest[1] == "live":
                return 200, protocol.dumps({"live": True})
            ok = await self._is_ready()
            return (200 if ok else 503), protocol.dumps({"ready": ok})
        if len(rest) < 2 or rest[0] != "models":
            raise ProtocolError(404, f"no route {path!r}")
        s = self.models.get(rest[1])
        if s is None:
            raise ProtocolError(404, f"unknown model {rest[1]!r}; this server has {', '.join(self.models)}")
        tail = rest[2:]
        if tail[:1] == ["versions"]:
            if len(tail) < 2 or tail[1] != protocol.VERSION:
                raise ProtocolError(404, f"model {s.name!r} has only version {protocol.VERSION}")
            tail = tail[2:]
        if tail == []:
            self._method(method, "GET")
            return 200, protocol.dumps(protocol.metadata(s))
        if tail == ["ready"]:
            self._method(method, "GET")
            ok = await self._is_ready()
            return (200 if ok else 503), protocol.dumps({"name": s.name, "ready": ok})
        if tail == ["infer"]:
            self._method(method, "POST")
            if len(body) > self.max_body_bytes:
                raise ProtocolError(413, f"body of {len(body)} bytes is over the limit of {self.max_body_bytes}")
            request = protocol.parse_infer(body, s, protocol.header_length(headers.get(protocol.HEADER_LENGTH)))
            async with asyncio.timeout(self.timeout_s):  # no extra task per request (wait_for makes one)
                outputs = await self.infer(s, request, body)
            if isinstance(outputs, protocol.Encoded):  # an engine that already holds the protocol's answer
                return 200, outputs
            return 200, protocol.encode_response(s, request, outputs)
        raise ProtocolError(404, f"no route {path!r}")

    @staticmethod
    def _method(method: str, allowed: str) -> None:
        if method != allowed:
            raise ProtocolError(405, f"use {allowed} here, not {method}")

    async def _is_ready(self) -> bool:
        return True if self.ready is None else bool(await self.ready())


def asgi_app(front: Front):
    """A bare ASGI app (uvicorn) over `front`: an oversized body (by its Content-Length or as it
    arrives) is dropped as it is read, never held, and answered 413."""

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        status, answer = await _answer(front, scope, receive)
        await send({"type": "http.response.start", "status": status, "headers": response_headers(answer)})
        await send({"type": "http.response.body", "body": answer.body})

    return app


def response_headers(answer: protocol.Encoded) -> list[tuple[bytes, bytes]]:
    """Content-Type and Content-Length, and the binary extension's header when the body has binary data."""
    if answer.header_length is None:
        return [(b"content-type", b"application/json"), (b"content-length", str(len(answer.body)).encode())]
    return [
        (b"content-type", b"application/octet-stream"),
        (b"content-length", str(len(answer.body)).encode()),
        (protocol.HEADER_LENGTH.encode(), str(answer.header_length).encode()),
    ]


async def _answer(front: Front, scope, receive) -> tuple[int, protocol.Encoded]:
    limit = front.max_body_bytes
    headers = dict(scope.get("headers") or [])
    declared = headers.get(b"content-length")
    over = declared is not None and declared.isdigit() and int(declared) > limit
    chunks, size = [], 0
    while True:  # an oversized body is still read to its end (and dropped): a client that is
        # still sending when the server closes sees a broken pipe instead of the 413
        message = await receive()
        if message["type"] == "http.disconnect":
            return 400, protocol.Encoded(protocol.error_body("the client went away"))
        chunk = message.get("body", b"")
        size += len(chunk)
        over = over or size > limit
        if not over:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if over:
        message = f"body of {max(size, int(declared or 0))} bytes is over the limit of {limit}"
        return 413, protocol.Encoded(protocol.error_body(message))
    binary = headers.get(protocol.HEADER_LENGTH.encode())
    extra = {protocol.HEADER_LENGTH: binary.decode("latin-1")} if binary is not None else {}
    return await front.answer(scope["method"], scope["path"], b"".join(chunks), extra)
