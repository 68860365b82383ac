"""Start ``complaints serve`` as a real subprocess for e2e tests, and stop or kill it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
COMPLAINTS = str(Path(sys.executable).with_name("complaints"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM and wait: a clean stop."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """kill -9: no chance to clean up."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def start_serve(
    db_url: str,
    log_path: Path,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    wait: float = 30,
) -> Served:
    port = free_port()
    env = {**os.environ, "COMPLAINTS_DB_URL": db_url, **(extra_env or {})}
    with log_path.open("ab") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [COMPLAINTS, "serve", "--host", "127.0.0.1", "--port", str(port), *(extra_args or [])],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Served(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"complaints serve exited with {process.returncode}:\n{served.log()}")
        try:
            if httpx.get(f"{served.url}/health", timeout=1).status_code == 200:
                return served
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    served.kill()
    raise RuntimeError(f"complaints serve did not answer /health in {wait}s:\n{served.log()}")
