"""Benchmark helpers: a fast webhook receiver and a delivery worker, each in its own process.

The receiver is a bare asyncio HTTP/1.1 server on loopback answering 204 (keep-alive), so the benchmark
measures the sender, not the receiver. The worker process runs the same loop ``complaints serve`` runs
(api/background.py) against a database URL.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class _Http(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        # asyncio sets TCP_NODELAY only on sockets made with proto IPPROTO_TCP, which an accepted socket of
        # socket.socket() is not: without it, pipelined answers wait for the sender's delayed ACK (40 ms)
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(_ANSWER)


def _serve(sock: socket.socket, nice: int = 0) -> None:
    if nice:
        os.nice(nice)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Http, sock=sock)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def start_receiver(nice: int = 0) -> tuple[multiprocessing.Process, str]:
    """The receiver's process and its URL; ``nice`` lowers its CPU priority (a bench says so when it does)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    process = multiprocessing.get_context("fork").Process(target=_serve, args=(sock, nice), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


def _work(url: str) -> None:
    from api.background import background_worker
    from api.bootstrap import Settings, bootstrap
    from service.logs import configure_logging

    configure_logging("WARNING")
    app = bootstrap(Settings(db_url=url), migrate=False)
    worker = background_worker(app)
    assert worker is not None
    worker.start()
    worker._thread.join()  # type: ignore[union-attr]  # until terminated


def start_worker(db_url: str) -> multiprocessing.Process:
    process = multiprocessing.get_context("spawn").Process(target=_work, args=(db_url,), daemon=True)
    process.start()
    return process
