"""One kept-alive HTTP/1.1 connection to a webhook receiver, sending each delivery in one write.

``http.client.HTTPConnection.request`` writes the headers and the body with two ``send`` calls, and on
loopback each send is a system call that also runs the receiving side of TCP: half of a delivery's CPU
(bench/webhooks.py). A delivery is small, so here the request is written as one buffer, and the answer
is read by the standard library's own parser (``http.client.HTTPResponse``: status line, headers,
Content-Length or chunked bodies, ``Connection: close``).
"""

from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import SplitResult, quote

# kept as they are in the request line; anything else (a non-ASCII path) is sent percent-encoded as UTF-8
_PRINTABLE_ASCII = "".join(chr(c) for c in range(33, 127))


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
        self._sock: socket.socket | None = None

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.https:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        return sock

    def post(self, path: str, headers: dict[str, str], body: bytes) -> int:
        """POST ``body``; the answer's status code (its body is read and dropped). Raises OSError or
        ``http.client.HTTPException`` (``RemoteDisconnected``: a kept-alive connection the server closed)."""
        target = quote(path, safe=_PRINTABLE_ASCII)
        lines = [f"POST {target} HTTP/1.1", f"Host: {self.host_header}", "Accept-Encoding: identity",
                 f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body
        sock = self._sock
        if sock is None:
            sock = self._sock = self._open()
        try:
            sock.sendall(request)
            response = http.client.HTTPResponse(sock, method="POST")
            response.begin()
            response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
