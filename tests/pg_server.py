"""A real PostgreSQL server for the tests, and fresh databases on it.

Either an existing server named by ``COMPLAINTS_TEST_PG_URL`` (any database on it that the user may
``CREATE DATABASE`` from), or a throwaway cluster made with ``initdb`` in a temporary directory, listening
on 127.0.0.1 on a free port, tuned for speed rather than durability, and removed afterwards.

As root, ``initdb`` and ``pg_ctl`` refuse to run, so they are run as the ``postgres`` system user.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

ENV_URL = "COMPLAINTS_TEST_PG_URL"
DRIVER = "postgresql+psycopg"
START_TIMEOUT_S = 60


class PgUnavailable(RuntimeError):
    """No PostgreSQL server could be reached or started; the message says why."""


def normalize_url(url: str | URL) -> URL:
    """Parse a PostgreSQL URL and make it use the psycopg 3 driver."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername=DRIVER)


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _admin_engine(admin_url: str | URL):
    return create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def check_connects(url: str | URL) -> str:
    """Connect once and return the server's version string."""
    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version()")).scalar_one()
    finally:
        engine.dispose()


def make_database(admin_url: str | URL, prefix: str = "complaints_test") -> str:
    """Create a new, empty, uniquely named database on the server of ``admin_url``; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"unsafe database name: {name!r}")
    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"))
    finally:
        engine.dispose()
    return _render(normalize_url(admin_url).set(database=name))


def drop_database(admin_url: str | URL, url: str | URL) -> None:
    """Drop the database of ``url``, disconnecting whoever is still connected to it."""
    name = make_url(url).database
    if not name or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"unsafe database name: {name!r}")
    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: the newest /usr/lib/postgresql/*/bin, else PATH."""

    def version(path: str) -> tuple[int, ...]:
        parts = Path(path).parent.name.split(".")
        return tuple(int(p) for p in parts if p.isdigit())

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if os.access(Path(candidate, "initdb"), os.X_OK) and os.access(Path(candidate, "pg_ctl"), os.X_OK):
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary directory; ``start()`` it, then ``stop()`` removes it."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = 0
        self.root: Path | None = None
        self.run_as: str | None = None  # the system user the server runs as, when we are root

    @property
    def admin_url(self) -> str:
        return _render(URL.create(DRIVER, username="postgres", host="127.0.0.1", port=self.port, database="postgres"))

    @property
    def log_file(self) -> Path:
        assert self.root is not None
        return self.root / "server.log"

    def _command(self, *args: str) -> list[str]:
        if self.run_as is None:
            return list(args)
        if shutil.which("runuser"):
            return ["runuser", "-u", self.run_as, "--", *args]
        return ["su", self.run_as, "-s", "/bin/sh", "-c", shlex.join(args)]

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        assert self.root is not None
        out = self.root / "commands.log"
        with open(out, "ab") as sink:
            result = subprocess.run(
                self._command(*args),
                cwd=self.root,  # readable by the postgres user, unlike the repository as root
                stdin=subprocess.DEVNULL,
                stdout=sink,  # never a pipe: the postmaster could inherit it and keep it open
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if result.returncode != 0:
            name = Path(args[0]).name
            raise PgUnavailable(f"{name} failed (exit {result.returncode}):\n{self._tail(out)}{self._tail_log()}")

    @staticmethod
    def _tail(path: Path, lines: int = 20) -> str:
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        except OSError:
            return ""

    def _tail_log(self) -> str:
        return self._tail(self.log_file) if self.root is not None else ""

    def start(self) -> None:
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PgUnavailable("running as root and there is no 'postgres' system user") from exc
            self.run_as = "postgres"
        self.root = Path(tempfile.mkdtemp(prefix="complaints-pg-"))
        if self.run_as is not None:
            shutil.chown(self.root, user=self.run_as, group=pwd.getpwnam(self.run_as).pw_gid)
        data = self.root / "data"
        sockets = self.root / "sockets"
        for directory in (data, sockets):
            directory.mkdir(mode=0o700)
            if self.run_as is not None:
                shutil.chown(directory, user=self.run_as, group=pwd.getpwnam(self.run_as).pw_gid)
        atexit.register(self.stop)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(data),
            "-U", "postgres",
            "-A", "trust",
            "-E", "UTF8",
            "--locale=C",
            "--no-sync",
        )  # fmt: skip
        server_options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={sockets}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        last_error: PgUnavailable | None = None
        for _attempt in range(3):  # another process may take the free port before the server binds it
            self.port = _free_port()
            try:
                self._run(
                    str(self.bin_dir / "pg_ctl"),
                    "-D", str(data),
                    "-l", str(self.log_file),
                    "-w", "-t", str(START_TIMEOUT_S),
                    "-o", f"-p {self.port} {server_options}",
                    "start",
                    timeout=START_TIMEOUT_S + 10,
                )  # fmt: skip
            except PgUnavailable as exc:
                last_error = exc
                continue
            return
        raise last_error or PgUnavailable("pg_ctl start failed")

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            if (self.root / "data" / "postmaster.pid").exists():
                with contextlib.suppress(PgUnavailable, subprocess.TimeoutExpired):
                    self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


class PgServer:
    """The server the tests use: an existing one (``COMPLAINTS_TEST_PG_URL``) or a throwaway cluster."""

    def __init__(self, admin_url: str, cluster: ThrowawayCluster | None = None) -> None:
        self.admin_url = admin_url
        self.cluster = cluster
        self._databases: list[str] = []

    @classmethod
    def start(cls) -> PgServer:
        """Reach the server of ``COMPLAINTS_TEST_PG_URL``, or start a throwaway one; raise PgUnavailable."""
        env_url = os.environ.get(ENV_URL)
        if env_url:
            admin_url = _render(normalize_url(env_url))
            try:
                check_connects(admin_url)
            except Exception as exc:
                raise PgUnavailable(f"{ENV_URL} is set but its server cannot be reached: {exc}") from exc
            return cls(admin_url)
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise PgUnavailable(
                "no initdb/pg_ctl found under /usr/lib/postgresql/*/bin or on PATH "
                f"(install Debian's 'postgresql' package, or set {ENV_URL})"
            )
        cluster = ThrowawayCluster(bin_dir)
        try:
            cluster.start()
            check_connects(cluster.admin_url)
        except Exception as exc:
            cluster.stop()
            if isinstance(exc, PgUnavailable):
                raise
            raise PgUnavailable(f"the throwaway PostgreSQL server did not start: {exc}") from exc
        return cls(cluster.admin_url, cluster)

    def make_database(self) -> str:
        url = make_database(self.admin_url)
        self._databases.append(url)
        return url

    def drop_database(self, url: str) -> None:
        drop_database(self.admin_url, url)
        if url in self._databases:
            self._databases.remove(url)

    def stop(self) -> None:
        """Drop the databases made here (on a shared server), then stop a throwaway cluster."""
        try:
            if self.cluster is None:
                for url in list(self._databases):
                    with contextlib.suppress(Exception):  # best effort: the server may have gone away
                        self.drop_database(url)
        finally:
            if self.cluster is not None:
                self.cluster.stop()
