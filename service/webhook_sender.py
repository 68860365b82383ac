"""One kept-alive HTTP/1.1 connection to a webhook receiver, sending each delivery in one write.

``http.client.HTTPConnection.request`` writes the headers and the body with two ``send`` calls, and on
loopback each send is a system call that also runs the receiving side of TCP: half of a delivery's CPU
(bench/webhooks.py). A delivery is small, so here the request is written as one buffer, and the answer
is read by the standard library's own parser (``http.client.HTTPResponse``: status line, headers,
Content-Length or chunked bodies, ``Connection: close``).

When a round has more deliveries for one origin than there are sender threads, ``post_many`` pipelines
them (RFC 9112, 9.3.2): the requests go in one write and the answers are read in order from one buffered
reader, so a delivery costs a fraction of the system calls, on both sides. A webhook POST is not
idempotent, which the RFC allows when the sender can recover: what was not answered is sent again, one
request at a time (at least once; receivers drop repeats by ``Webhook-Id``), and a receiver that answered
part of a pipeline and then failed or closed is not sent pipelined requests again by this connection.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import SplitResult, quote

# kept as they are in the request line; anything else (a non-ASCII path) is sent percent-encoded as UTF-8
_PRINTABLE_ASCII = "".join(chr(c) for c in range(33, 127))


Request = tuple[str, dict[str, str], bytes]  # path, headers, body


class _Kept:
    """The connection's buffered reader as ``HTTPResponse`` sees it: its ``close`` (at the end of every
    answer) leaves the reader open, so bytes of the next pipelined answer already read stay for the next."""

    def __init__(self, reader: io.BufferedReader) -> None:
        self._reader = reader

    def makefile(self, mode: str) -> _Kept:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def close(self) -> None:
        pass


class Link:
    """A connection to one origin (scheme, host, port), opened on first use and again after a close."""

    def __init__(self, parts: SplitResult, timeout: float) -> None:
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.timeout = timeout
        shown = f"[{self.host}]" if ":" in self.host else self.host.encode("idna").decode("ascii")
        default = self.port == (443 if self.https else 80)
        self.host_header = shown if default else f"{shown}:{self.port}"
        self.pipelining = True
        self._sock: socket.socket | None = None
        self._source: _Kept | None = None

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.https:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        return sock

    def _connected(self) -> socket.socket:
        if self._sock is None:
            self._sock = self._open()
            self._source = _Kept(self._sock.makefile("rb"))
        return self._sock

    def _request(self, path: str, headers: dict[str, str], body: bytes) -> bytes:
        target = quote(path, safe=_PRINTABLE_ASCII)
        lines = [f"POST {target} HTTP/1.1", f"Host: {self.host_header}", "Accept-Encoding: identity",
                 f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body

    def _answer(self) -> int:
        """The next answer's status code (its body read and dropped); closes when the receiver will."""
        response = http.client.HTTPResponse(self._source, method="POST")  # type: ignore[arg-type]
        response.begin()
        response.read()
        if response.will_close:
            self.close()
        return response.status

    def post(self, path: str, headers: dict[str, str], body: bytes) -> int:
        """POST ``body``; the answer's status code (its body is read and dropped). Raises OSError or
        ``http.client.HTTPException`` (``RemoteDisconnected``: a kept-alive connection the server closed)."""
        request = self._request(path, headers, body)
        try:
            self._connected().sendall(request)
            return self._answer()
        except BaseException:
            self.close()
            raise

    def post_many(self, requests: Sequence[Request]) -> list[int]:
        """POST each, pipelined; the status codes of the answers, in order, as far as they came (an error or a
        close part-way ends the list early: the caller sends the rest again). Never raises for the network."""
        if not requests:
            return []
        if len(requests) == 1 or not self.pipelining:
            return []  # nothing to gain, or a receiver that does not take pipelined requests: one at a time
        codes: list[int] = []
        try:
            self._connected().sendall(b"".join(self._request(*r) for r in requests))
            while len(codes) < len(requests):
                codes.append(self._answer())
                if self._sock is None:  # the receiver closed after this answer
                    break
        except (OSError, http.client.HTTPException):
            self.close()
        if codes and len(codes) < len(requests):
            self.pipelining = False  # it answered part and then failed or closed: no more pipelines to it
        return codes

    def close(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            source._reader.close()
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
