"""A real, scripted OpenAI-compatible HTTP server on loopback, for tests and offline dry runs.

The openai SDK is exercised end to end (HTTP, status codes, headers, timeouts) without any
mocking layer. Script it with a queue of ``Reply`` objects or a callable ``(request) -> Reply``.
Dry run: ``python -m cruxforge.llm.testserver --port 8099 --text '...'`` then point
``CRUXFORGE_LLM_BASE_URL`` at ``http://127.0.0.1:8099/v1``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer; use the constructors below rather than the raw fields."""

    text: str | None = "ok"
    finish_reason: str = "stop"
    prompt_tokens: int = 10
    completion_tokens: int = 5
    status: int = 200
    retry_after: str | None = None
    delay_s: float = 0.0
    error_message: str = ""
    drop: bool = False  # close the connection without answering

    @classmethod
    def answer(cls, text: str, prompt_tokens: int = 10, completion_tokens: int = 5) -> Reply:
        return cls(text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    @classmethod
    def error(cls, status: int, retry_after: str | None = None, message: str = "") -> Reply:
        return cls(status=status, retry_after=retry_after, error_message=message or f"{status}")

    @classmethod
    def slow(cls, delay_s: float, text: str = "ok") -> Reply:
        """Answers only after ``delay_s``: longer than the client timeout provokes a timeout."""
        return cls(text=text, delay_s=delay_s)

    @classmethod
    def dropped(cls) -> Reply:
        """Closes the connection mid-request, as a crashing server would."""
        return cls(text=None, drop=True)

    @classmethod
    def empty(cls) -> Reply:
        return cls(text=None, completion_tokens=0)

    @classmethod
    def truncated(cls, text: str, completion_tokens: int = 5) -> Reply:
        return cls(text=text, finish_reason="length", completion_tokens=completion_tokens)


Script = Callable[[dict[str, Any]], Reply] | Iterable[Reply]


class _Server(ThreadingHTTPServer):
    # a build asks dozens of requests at once; the default backlog of 5 refuses some
    request_queue_size = 256
    daemon_threads = True

EXHAUSTED = Reply.error(500, message="ScriptedChatServer: no scripted reply left")


class ScriptedChatServer:
    """Context manager: starts on 127.0.0.1 (free port) in a daemon thread, stops on exit."""

    def __init__(self, script: Script = (), default: Reply | None = None, port: int = 0) -> None:
        self._fn: Callable[[dict[str, Any]], Reply] | None = None
        self._queue: deque[Reply] = deque()
        if callable(script):
            self._fn = script
        else:
            self._queue.extend(script)
        self.default = default
        self.requests: list[dict[str, Any]] = []  # JSON bodies of chat requests, in order
        self.authorizations: list[str] = []  # Authorization headers, to check what was sent
        self.in_flight = 0  # chat requests being answered now
        self.most_in_flight = 0  # the most ever answered at once
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._httpd = _Server(("127.0.0.1", port), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def __enter__(self) -> ScriptedChatServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # wakes handlers sleeping in a delay
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if self._fn is None:
                return self._queue.popleft() if self._queue else (self.default or EXHAUSTED)
        return self._fn(body)

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            },
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the SDK reuses connections
            disable_nagle_algorithm = True  # otherwise every call waits ~50 ms on ACKs

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _send(
                self, status: int, payload: Any, headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout); nothing to tell it

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") == "/v1/models":
                    model = {"id": "scripted", "object": "model", "created": 0, "owned_by": "x"}
                    self._send(200, {"object": "list", "data": [model]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, {"error": {"message": "body is not JSON"}})
                    return
                with server._lock:
                    server.authorizations.append(self.headers.get("Authorization", ""))
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                try:
                    self._answer(body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, body: dict[str, Any]) -> None:
                reply = server._next_reply(body)
                if reply.delay_s and server._stop.wait(reply.delay_s):
                    return  # server shutting down
                if reply.drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reply.status != 200:
                    err = {"message": reply.error_message, "type": "scripted", "code": reply.status}
                    hdrs = {"Retry-After": reply.retry_after} if reply.retry_after else {}
                    self._send(reply.status, {"error": err}, hdrs)
                else:
                    self._send(200, server._completion(body, reply))

        return Handler


def main() -> None:
    """Serve one fixed answer forever, for an offline dry run of a build."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--text", default="```\n```", help="answer returned to every request")
    args = ap.parse_args()
    with ScriptedChatServer(default=Reply.answer(args.text), port=args.port) as srv:
        print(f"serving {srv.base_url} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
