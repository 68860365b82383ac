"""One transaction per command, rolled back unless committed.

A forgotten ``commit()`` writes nothing (cosmicpython's unit of work): event,
snapshot and deadlines land together or not at all. Driver errors that mean
"someone else wrote first" become ``VersionConflict`` here, at the adapter.
"""

from __future__ import annotations

from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.database import is_postgres
from storage.repository import CaseRepository
from storage.write_lock import writer_lock
from workflow.errors import VersionConflict


class UnitOfWork:
    def __init__(self, engine: Engine, write: bool = True) -> None:
        self.engine = engine
        self.write = write
        self._committed = False

    def __enter__(self) -> UnitOfWork:
        # SQLite: a writer queues on the process's writer lock before BEGIN IMMEDIATE (storage/write_lock.py)
        self._lock = writer_lock(self.engine) if self.write else None
        if self._lock is not None:
            self._lock.acquire()
        try:
            self.connection = self.engine.connect().execution_options(complaints_write=self.write)
            self.transaction = self.connection.begin()
        except BaseException:
            self._release()
            raise
        self.cases = CaseRepository(self.connection, lock_rows=is_postgres(self.engine))
        return self

    def commit(self) -> None:
        try:
            self.transaction.commit()
        except sa.exc.IntegrityError as err:
            raise VersionConflict(f"a concurrent write won: {err.orig}") from None
        self._committed = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed and self.transaction.is_active:
                self.transaction.rollback()
        finally:
            try:
                self.connection.close()
            finally:
                self._release()
        if isinstance(exc, sa.exc.IntegrityError):
            raise VersionConflict(f"a concurrent write won: {exc.orig}") from None

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class UnitOfWorkFactory:
    """What the service holds: makes a fresh unit of work per command."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, write: bool = True) -> UnitOfWork:
        return UnitOfWork(self.engine, write=write)
