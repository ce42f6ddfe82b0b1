"""Content hashes: sha256 of a file, and a stable sha256 of a folder's tree.

A folder's digest covers each regular file's path relative to the folder (with ``/``
separators, in sorted order) and that file's own digest — not timestamps or permissions —
so the same tree hashes the same on every machine.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """The sha256 hex digest of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def tree_files(root: Path) -> list[tuple[str, Path]]:
    """``(relative posix path, absolute path)`` of every file under ``root``, sorted."""
    found = []
    for folder, _dirs, files in os.walk(root, followlinks=True):
        for name in files:
            path = Path(folder) / name
            found.append((path.relative_to(root).as_posix(), path))
    found.sort()
    return found


def tree_digest_of(entries: list[tuple[str, str]]) -> str:
    """The folder digest from its sorted ``(relative path, file digest)`` entries."""
    hasher = hashlib.sha256()
    for relative, digest in entries:
        hasher.update(relative.encode("utf-8"))
        hasher.update(b"\0")
        hasher.update(digest.encode("ascii"))
        hasher.update(b"\n")
    return hasher.hexdigest()


def tree_manifest(root: Path) -> dict[str, tuple[str, int]]:
    """``relative path -> (digest, size)`` of every file under ``root``."""
    return {
        relative: (file_digest(path), path.stat().st_size) for relative, path in tree_files(root)
    }


def tree_digest(root: Path) -> str:
    """The stable digest of the folder ``root``."""
    manifest = tree_manifest(root)
    return tree_digest_of([(relative, manifest[relative][0]) for relative in sorted(manifest)])
