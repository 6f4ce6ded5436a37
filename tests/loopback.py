"""Loopback servers for tests that deliver: a minimal HTTP/1.1 server for webhooks, which records
each request and answers from a script (success, 5xx, 429, 4xx, or no answer at all), and an SMTP
server (aiosmtpd) that keeps each message."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

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


class RecordingSmtp:
    """An aiosmtpd handler that keeps each message, answering from `replies` first (then 250)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.replies: deque[str] = deque()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.replies:
            return self.replies.popleft()
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@contextmanager
def loopback_smtp() -> Iterator[tuple[RecordingSmtp, int]]:
    """An SMTP server on a free loopback port, and the handler that records what it receives."""
    handler, port = RecordingSmtp(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
