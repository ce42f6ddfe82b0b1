"""The bounds of the loaded-package cache, and its pins."""

from __future__ import annotations

from shipyard.registry.cache import PackageCache


def test_the_least_recently_used_version_leaves_first_past_the_count() -> None:
    cache: PackageCache[str] = PackageCache(max_versions=2, max_bytes=1000)
    cache.put("a", "A", size=1)
    cache.put("b", "B", size=1)
    assert cache.get("a") == "A"  # a is now the most recently used
    cache.put("c", "C", size=1)
    assert cache.digests == ["a", "c"]
    assert cache.get("b") is None


def test_the_size_bound_drops_versions_until_the_rest_fits() -> None:
    cache: PackageCache[str] = PackageCache(max_versions=10, max_bytes=100)
    cache.put("a", "A", size=40)
    cache.put("b", "B", size=40)
    cache.put("c", "C", size=50)
    assert cache.digests == ["b", "c"] and cache.size == 90
    cache.put("d", "D", size=200)  # larger than the bound alone: nothing unpinned stays
    assert cache.digests == []


def test_pinned_versions_are_never_dropped_even_over_the_bounds() -> None:
    cache: PackageCache[str] = PackageCache(max_versions=1, max_bytes=100)
    cache.pin("served")
    cache.put("served", "S", size=500)
    cache.put("other", "O", size=1)
    assert cache.digests == ["served"]
    cache.pin("served")  # pinned twice (two catalogs): one unpin keeps it
    cache.unpin("served")
    cache.put("other", "O", size=1)
    assert cache.digests == ["served"]
    cache.unpin("served")
    assert cache.digests == []  # unpinned and over the size bound: dropped at once
    cache.unpin("never pinned")  # harmless
    cache.put("x", "X", size=1)
    assert cache.digests == ["x"]
