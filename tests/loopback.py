"""A minimal HTTP/1.1 server on loopback for tests that deliver to webhooks: it records each request
and answers from a script (success, 5xx, 429, 4xx, or no answer at all)."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from service.engines import free_port


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)
    after: asyncio.Event | None = None  # answer only once this is set


HANG = None  # in a script: read the request, never answer


class LoopbackHttp:
    """A minimal HTTP/1.1 server: one request per connection, answered from `script` (then 200)."""

    def __init__(self, accept: Callable[[Seen], bool] = lambda _: True) -> None:
        self.accept = accept  # a request it refuses gets 401
        self.script: deque[Reply | None] = deque()
        self.requests: list[Seen] = []
        self.hanging = asyncio.Event()
        self._release = asyncio.Event()
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def then(self, *replies: Reply | None) -> None:
        self.script.extend(replies)

    async def __aenter__(self) -> LoopbackHttp:
        self.port = free_port()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        self._release.set()
        self._server.close()
        await self._server.wait_closed()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            method, path, _ = (await reader.readline()).decode().split(" ", 2)
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            seen = Seen(
                method, path, headers, await reader.readexactly(int(headers.get("content-length", 0)))
            )
            self.requests.append(seen)
            reply = self.script.popleft() if self.script else Reply()
            if reply is HANG:
                self.hanging.set()
                await self._release.wait()
                return
            if reply.after is not None:
                await reply.after.wait()
            if not self.accept(seen):
                reply = Reply(401, {"error": "bad signature"})
            body = json.dumps(reply.body).encode()
            head = [f"HTTP/1.1 {reply.status} X", f"Content-Length: {len(body)}", "Connection: close"]
            head += ["Content-Type: application/json", *(f"{k}: {v}" for k, v in reply.headers.items())]
            writer.write("\r\n".join(head).encode() + b"\r\n\r\n" + body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up (a timeout): nothing to answer
        finally:
            writer.close()
            self._handlers.discard(task)
