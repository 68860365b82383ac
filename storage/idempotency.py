"""Idempotency keys: the first answer to a POST, kept so that a retry gets it back and writes nothing.

A client's key is scoped to the caller (two clients may pick the same key) and
stored hashed, with a fingerprint of the request it answered. The key row of a
command that wrote something is inserted in the SAME transaction as the
command's event (``IdempotencyGuard``, a hook the service runs inside its unit
of work), so "the event was written" and "the key is taken" are one fact:

- SQLite: write transactions start with ``BEGIN IMMEDIATE``, so a second
  request with the key waits, then finds the row in ``check`` and writes nothing.
- PostgreSQL: an event post locks the case row first, so ``check`` runs after
  the winner committed and sees its row (the key's row is read in the same
  statement as the locked case; when that statement waited for a concurrent
  writer of the case, it is read again: ``IdempotencyGuard.check``); two concurrent case openings both
  reach ``record``, where the primary key lets exactly one insert win
  (``ON CONFLICT DO NOTHING``) and the loser's whole transaction is dropped.

Either way the loser raises ``KeyTaken`` carrying the stored answer, which the
HTTP layer replays. Keys survive restarts; they are never expired here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from storage.tables import idempotency_keys
from storage.write_lock import write_transaction


@dataclass(frozen=True)
class StoredResponse:
    """The answer first given for a key, and the fingerprint of the request it answered."""

    request_hash: str
    status_code: int
    body: Any


class KeyTaken(Exception):
    """The key was used first by another request (possibly one running concurrently)."""

    def __init__(self, stored: StoredResponse) -> None:
        super().__init__("idempotency key already used")
        self.stored = stored


def scoped_key(scope: str, key: str) -> str:
    """The stored form of a client's key: hashed with its scope (the caller), so it fits the column."""
    return hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()


def fingerprint(*parts: str | bytes) -> str:
    """A hash of the request's parts (method, path, body...): same request, same fingerprint."""
    digest = hashlib.sha256()
    for part in parts:
        raw = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(raw).to_bytes(8, "big"))
        digest.update(raw)
    return digest.hexdigest()


# Built once: a command's cost is its round trips, not building statements.
_LOOKUP = sa.select(idempotency_keys.c.request_hash, idempotency_keys.c.status_code, idempotency_keys.c.response).where(
    idempotency_keys.c.key == sa.bindparam("key")
)
_INSERT = {
    # RETURNING says whether a row went in (rowcount is not reliable for ON CONFLICT on every driver)
    "postgresql": postgresql.insert(idempotency_keys).on_conflict_do_nothing().returning(idempotency_keys.c.key),
    "sqlite": sqlite.insert(idempotency_keys).on_conflict_do_nothing().returning(idempotency_keys.c.key),
}


def lookup(connection: sa.Connection, key: str) -> StoredResponse | None:
    row = connection.execute(_LOOKUP, {"key": key}).first()
    return StoredResponse(row.request_hash, row.status_code, row.response) if row is not None else None


class NotRead:
    """What ``IdempotencyGuard.check`` is given when the key's row was not read with the case: it reads it."""

    def __repr__(self) -> str:
        return "NOT_READ"


NOT_READ = NotRead()


def insert(connection: sa.Connection, key: str, request_hash: str, status_code: int, body: Any, now: datetime) -> bool:
    """Store the answer for ``key``; False (and nothing written) when the key is already stored."""
    statement = _INSERT.get(connection.dialect.name)
    if statement is None:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {connection.dialect.name}")
    values = {"key": key, "request_hash": request_hash, "status_code": status_code, "response": body, "created_at": now}
    return connection.execute(statement, values).first() is not None


def store(engine: sa.Engine, key: str, request_hash: str, status_code: int, body: Any, now: datetime) -> None:
    """Store an answer that wrote nothing (a refusal) in its own transaction; a concurrent first answer wins."""
    with write_transaction(engine) as connection:
        insert(connection, key, request_hash, status_code, body, now)


def find(engine: sa.Engine, key: str) -> StoredResponse | None:
    with engine.connect().execution_options(complaints_write=False) as connection, connection.begin():
        return lookup(connection, key)


@dataclass
class IdempotencyGuard:
    """The hook a command runs inside its transaction: refuse a used key, record the answer with the event."""

    key: str
    request_hash: str
    status_code: int
    now: datetime

    def check(self, connection: sa.Connection, read: StoredResponse | None | NotRead = NOT_READ) -> None:
        """``KeyTaken`` if the key has an answer; ``read``: the key's row as read with the locked case, if it was.

        A command reads its case's row and the key's in one statement (``CaseRepository.get``), one round trip
        fewer; when that read cannot be trusted (PostgreSQL, the case row changed while this command waited
        for its lock) ``read`` is ``NOT_READ`` and the key is looked up afresh.
        """
        stored = lookup(connection, self.key) if isinstance(read, NotRead) else read
        if stored is not None:
            raise KeyTaken(stored)

    def record(self, connection: sa.Connection, body: Any) -> None:
        self.recorded(connection, insert(connection, *self.row(body)))

    def row(self, body: Any) -> tuple[Any, ...]:
        """The key's row with this answer, in ``insert``'s order: what a command's own statement can store
        (``CaseRepository.save``), one statement fewer than ``record``."""
        return (self.key, self.request_hash, self.status_code, body, self.now)

    def recorded(self, connection: sa.Connection, inserted: bool) -> None:
        """``KeyTaken`` when the key's row did not go in: another request stored its answer first."""
        if not inserted:
            stored = lookup(connection, self.key)
            if stored is None:  # pragma: no cover - the conflicting row cannot vanish within our transaction
                raise RuntimeError("idempotency key conflict without a stored row")
            raise KeyTaken(stored)
