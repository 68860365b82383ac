"""A real webhook receiver on loopback for the tests: records what arrives, checks signatures, can fail.

``Receiver(secret=...)`` starts a threaded stdlib HTTP server on 127.0.0.1 (port chosen by the OS);
``failing = N`` answers 500 to the next N requests; ``delay`` sleeps before each answer.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from service.signing import HEADER, verify


@dataclass
class Arrival:
    body: bytes
    headers: dict[str, str]
    signed: bool
    status: int

    @property
    def entry(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    def __init__(self, secret: str = "", delay: float = 0.0) -> None:
        self.secret = secret
        self.delay = delay
        self.failing = 0
        self.arrivals: list[Arrival] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request (kill -9): nothing arrived
                    self.close_connection = True
                    return
                if owner.delay:
                    time.sleep(owner.delay)
                with owner.lock:
                    status = 500 if owner.failing > 0 else 204
                    if owner.failing > 0:
                        owner.failing -= 1
                    signed = bool(owner.secret) and verify(owner.secret, body, self.headers.get(HEADER, ""))
                    owner.arrivals.append(Arrival(body, dict(self.headers), signed, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.status == 204]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
