"""The loaded model packages a process keeps, bounded by count and by size.

A server that follows its aliases for weeks loads version after version; without a bound
it would keep every one.  ``PackageCache`` drops the least recently used package once it
holds more than ``max_versions`` packages or more than ``max_bytes`` (their size on disk,
which tracks their size in memory), but never a pinned one: the versions being served
stay, even when they alone are over the bounds.

>>> cache = PackageCache(max_versions=1, max_bytes=10**9)
>>> cache.pin("a")
>>> cache.put("a", "package a", size=10)
>>> cache.put("b", "package b", size=10)  # over the count: b is dropped, a is pinned
>>> cache.digests
['a']
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from typing import Generic, TypeVar

__all__ = ["PackageCache"]

Package = TypeVar("Package")


class PackageCache(Generic[Package]):
    """Packages by digest, least recently used first out; pinned digests are kept."""

    def __init__(self, *, max_versions: int, max_bytes: int) -> None:
        self.max_versions = max_versions
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Package, int]] = OrderedDict()
        self._pins: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def digests(self) -> list[str]:
        """The digests held, least recently used first."""
        with self._lock:
            return list(self._entries)

    @property
    def size(self) -> int:
        """The bytes held."""
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def get(self, digest: str) -> Package | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            self._entries.move_to_end(digest)
            return entry[0]

    def put(self, digest: str, package: Package, *, size: int) -> None:
        """Hold ``package``, then drop what is over the bounds and not pinned."""
        with self._lock:
            self._entries[digest] = (package, size)
            self._entries.move_to_end(digest)
            self._evict()

    def pin(self, digest: str) -> None:
        """Keep ``digest`` (once held) until ``unpin`` is called as often as ``pin``."""
        with self._lock:
            self._pins[digest] += 1

    def unpin(self, digest: str) -> None:
        with self._lock:
            self._pins[digest] -= 1
            if self._pins[digest] <= 0:
                del self._pins[digest]
            self._evict()

    def _evict(self) -> None:
        total = sum(size for _, size in self._entries.values())
        count = len(self._entries)
        for digest in list(self._entries):
            if count <= self.max_versions and total <= self.max_bytes:
                return
            if digest in self._pins:
                continue
            _, size = self._entries.pop(digest)
            count -= 1
            total -= size
