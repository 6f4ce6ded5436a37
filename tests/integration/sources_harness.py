"""What the live-source connector tests and benches share: a loopback HTTP server that records every
request and answers as the platform under test would, and sinks that keep or count what a connector
hands on."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import orjson

from pantau.normalise import normalise


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Reply:
    """A body of bytes is sent whole with its Content-Length (or only its first `cut_after` bytes, then
    the connection closed); any other iterable of bytes is streamed, each chunk flushed as it comes,
    and the connection closed when it ends."""

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, orjson.dumps(body), {**(headers or {}), "Content-Type": "application/json"})


def stream_reply(chunks: Iterable[bytes], content_type: str = "application/json") -> Reply:
    return Reply(200, iter(chunks), {"Content-Type": content_type})


def lines_reply(lines: Iterable[str], end: str = "\n", content_type: str = "application/json") -> Reply:
    """A stream of lines, such as newline-delimited JSON."""
    return stream_reply(((line + end).encode() for line in lines), content_type)


def sse_reply(lines: Iterable[str]) -> Reply:
    """A Server-Sent Events stream of these lines (an empty one ends an event)."""
    return lines_reply(lines, "\n", "text/event-stream")


def sse_event(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


class LoopbackServer:
    """An HTTP server on a free port of 127.0.0.1, served by a daemon thread once started: records
    every request in `received` and sends what `answer` says (a subclass overrides it, or passes a
    function). A context manager: started on entry, shut down on exit."""

    def __init__(self, answer: Callable[[Request], Reply] | None = None, protocol: str = "HTTP/1.0") -> None:
        self.received: list[Request] = []
        self._answer = answer
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = protocol

            def do_GET(self) -> None:
                self.answer_request()

            def do_POST(self) -> None:
                self.answer_request()

            def answer_request(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    {name.lower(): value for name, value in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                server.received.append(request)
                self.send(server.answer(request))

            def send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if isinstance(reply.body, bytes):
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body[: reply.cut_after])
                    if reply.cut_after is not None:
                        self.close_connection = True
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in reply.body:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away mid-stream
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def answer(self, request: Request) -> Reply:
        return self._answer(request) if self._answer else Reply(404)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class RecordingSink:
    """Takes every envelope, as the spool would, and keeps it for the test to read."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []

    async def send_many(self, values: Iterable[bytes]) -> int:
        batch = list(values)
        self.envelopes += batch
        return len(batch)

    def texts(self) -> list[str]:
        """Each post's text, as the pipeline normalises it."""
        return [normalise(e).text for e in self.envelopes]


class CountingSink:
    """Counts the envelopes (for the benches) and sets `arrived` at each batch."""

    def __init__(self) -> None:
        self.posts = 0
        self.arrived = asyncio.Event()

    async def send_many(self, values: Iterable[bytes]) -> int:
        count = sum(1 for _ in values)
        self.posts += count
        self.arrived.set()
        return count
