"""The shipped policies (and any extra folder of them), by id and version.

New cases take a policy's newest version; a case keeps the version it was
opened under for life, so every version ever shipped stays loadable.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from workflow.errors import UnknownPolicy
from workflow.policy import POLICY_DIR, Policy, PolicyError, load_policy_file


class Catalog:
    def __init__(self, policies: Iterable[Policy]) -> None:
        self._by_ref: dict[tuple[str, int], Policy] = {}
        for policy in policies:
            key = (policy.id, policy.version)
            if key in self._by_ref:
                raise PolicyError(f"{policy.path}: {policy.ref} is defined twice")
            self._by_ref[key] = policy

    @classmethod
    def from_dirs(cls, *dirs: Path) -> Catalog:
        return cls(load_policy_file(p) for d in dirs for p in sorted(d.glob("*/*.toml")))

    def ids(self) -> list[str]:
        return sorted({pid for pid, _ in self._by_ref})

    def versions(self, policy_id: str) -> list[int]:
        return sorted(v for pid, v in self._by_ref if pid == policy_id)

    def all(self) -> list[Policy]:
        return [self._by_ref[k] for k in sorted(self._by_ref)]

    def get(self, policy_id: str, version: int | None = None) -> Policy:
        if version is not None:  # every command and every fired case asks by id and version: one lookup
            found = self._by_ref.get((policy_id, version))
            if found is not None:
                return found
        versions = self.versions(policy_id)
        if not versions:
            raise UnknownPolicy(f"unknown policy {policy_id!r}; policies are: {', '.join(self.ids())}")
        chosen = versions[-1] if version is None else version
        policy = self._by_ref.get((policy_id, chosen))
        if policy is None:
            raise UnknownPolicy(f"policy {policy_id!r} has no version {chosen}; versions: {versions}")
        return policy

    def resolve(self, ref: str) -> Policy:
        """``id`` or ``id@version``."""
        policy_id, _, version = ref.partition("@")
        if version and not (version.isascii() and version.isdigit()):
            raise UnknownPolicy(f"bad policy version in {ref!r}: expected id@N")
        return self.get(policy_id, int(version) if version else None)


@lru_cache(maxsize=1)
def shipped() -> Catalog:
    return Catalog.from_dirs(POLICY_DIR)
