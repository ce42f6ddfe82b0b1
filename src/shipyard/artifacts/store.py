"""Immutable, content-addressed artifact storage on any fsspec file system.

Layout under the store's root::

    objects/ab/abcdef...             a file artifact, named by its sha256
    trees/ab/abcdef.../...           a folder artifact's files
    trees/ab/abcdef....json          the folder's manifest, written last
    tmp/                             local staging, renamed into place when complete
    work/ab/abcdef.../               a step's working folder, kept across attempts

An artifact exists only once it is complete: a file is renamed into place (locally) or
written in one PUT (object stores); a folder counts as stored only when its manifest,
written after every file, is present.  A crash therefore never leaves an artifact the
store believes complete.  Reads re-hash the bytes and raise ``ArtifactCorrupted`` when
they no longer match.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import fsspec
from fsspec.implementations.local import LocalFileSystem

from shipyard.artifacts.hashing import file_digest, tree_digest, tree_digest_of, tree_manifest
from shipyard.errors import ArtifactCorrupted, ArtifactError, ArtifactNotFound

Kind = Literal["file", "dir"]
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


@dataclass(frozen=True)
class StoredBlob:
    """Where a stored artifact lives and what it is."""

    digest: str
    kind: Kind
    size: int
    uri: str


class ArtifactStore:
    """Content-addressed artifacts under a local folder or an fsspec URL.

    >>> store = ArtifactStore("/tmp/artifacts")  # doctest: +SKIP
    >>> blob = store.put(Path("model.skops"))  # doctest: +SKIP
    >>> store.materialize(blob.digest, blob.kind)  # doctest: +SKIP
    """

    def __init__(self, url: str, *, cache_dir: Path | None = None) -> None:
        self.url = url.rstrip("/")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise ArtifactError(
                f"cannot open the artifact store at {url}: {exc}; for s3:// URLs install "
                "'shipyard[s3]'"
            ) from exc
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.root = self.root.rstrip("/")
        if self.is_local:
            Path(self.root, "tmp").mkdir(parents=True, exist_ok=True)
        self._cache_dir = cache_dir

    def __getstate__(self) -> dict[str, Any]:
        # Steps may run in other processes or on other machines: send the URL only.
        return {"url": self.url, "cache_dir": self._cache_dir}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], cache_dir=state["cache_dir"])  # type: ignore[misc]

    # -- paths ----------------------------------------------------------------------

    def _object_path(self, digest: str) -> str:
        return f"{self.root}/objects/{digest[:2]}/{digest}"

    def _tree_path(self, digest: str) -> str:
        return f"{self.root}/trees/{digest[:2]}/{digest}"

    def _manifest_path(self, digest: str) -> str:
        return f"{self.root}/trees/{digest[:2]}/{digest}.json"

    def uri(self, digest: str, kind: Kind) -> str:
        path = self._object_path(digest) if kind == "file" else self._tree_path(digest)
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return path if self.is_local else f"{protocol}://{path}"

    # -- writing --------------------------------------------------------------------

    def put(self, path: Path) -> StoredBlob:
        """Store a file or folder; storing the same content again writes nothing."""
        if path.is_dir():
            return self._put_tree(path)
        if path.is_file():
            return self._put_file(path)
        raise ArtifactError(f"cannot store {path}: it is neither a file nor a folder")

    def _put_file(self, path: Path) -> StoredBlob:
        digest = file_digest(path)
        size = path.stat().st_size
        final = self._object_path(digest)
        try:
            if not self.fs.exists(final):
                if self.is_local:
                    staging = Path(self.root, "tmp", uuid.uuid4().hex)
                    shutil.copyfile(path, staging)
                    staging.chmod(_READ_ONLY)
                    Path(final).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staging, final)
                else:
                    self.fs.put_file(str(path), final)
        except OSError as exc:
            raise ArtifactError(f"cannot store {path} in {self.url}: {exc}") from exc
        return StoredBlob(digest=digest, kind="file", size=size, uri=self.uri(digest, "file"))

    def _put_tree(self, path: Path) -> StoredBlob:
        manifest = tree_manifest(path)
        digest = tree_digest_of([(name, manifest[name][0]) for name in sorted(manifest)])
        size = sum(entry[1] for entry in manifest.values())
        blob = StoredBlob(digest=digest, kind="dir", size=size, uri=self.uri(digest, "dir"))
        manifest_path = self._manifest_path(digest)
        try:
            if self.fs.exists(manifest_path):
                return blob
            final = self._tree_path(digest)
            if self.is_local:
                self._place_local_tree(path, Path(final))
            else:
                # Object stores have no rename: upload in place (each PUT is atomic and
                # idempotent for identical content); the manifest below marks completion.
                self.fs.put(str(path) + "/", final, recursive=True)
            body = json.dumps({"files": manifest}, sort_keys=True).encode()
            self._write_atomic(manifest_path, body)
        except OSError as exc:
            raise ArtifactError(f"cannot store folder {path} in {self.url}: {exc}") from exc
        return blob

    def _place_local_tree(self, source: Path, final: Path) -> None:
        if final.exists():
            # A rename is atomic, so a folder already in place is complete; only its
            # manifest can be missing (a crash between the two writes).
            return
        staging = Path(self.root, "tmp", uuid.uuid4().hex)
        shutil.copytree(source, staging)
        for folder, _dirs, files in os.walk(staging):
            for name in files:
                Path(folder, name).chmod(_READ_ONLY)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, final)
        except OSError:
            if not final.exists():
                raise
            shutil.rmtree(staging)  # another process placed the same tree first

    def _write_atomic(self, target: str, body: bytes) -> None:
        if self.is_local:
            staging = Path(self.root, "tmp", uuid.uuid4().hex)
            staging.write_bytes(body)
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, target)
        else:
            self.fs.pipe_file(target, body)

    def put_bytes(self, body: bytes, *, name: str = "blob") -> StoredBlob:
        """Store bytes as a file artifact."""
        with tempfile.TemporaryDirectory(prefix="shipyard-") as folder:
            path = Path(folder, name)
            path.write_bytes(body)
            return self._put_file(path)

    def work_folder(self, key: str) -> Path:
        """A local folder that belongs to ``key`` (a step's fingerprint) and outlives the
        process: where a step keeps state it resumes from after a crash (the Tuner's
        study).  Unlike artifacts, its content changes; remote stores keep it in the local
        cache folder, so a resume happens on the same machine.
        """
        if not key or not key.isalnum():
            raise ArtifactError(f"a working folder's key must be letters and digits, not {key!r}")
        if self.is_local:
            base = Path(self.root, "work")
        else:
            base = (self._cache_dir or Path.home() / ".cache" / "shipyard") / "work"
        folder = base / key[:2] / key
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactError(f"cannot make the working folder of {key[:12]}: {exc}") from exc
        return folder

    # -- reading --------------------------------------------------------------------

    def exists(self, digest: str, kind: Kind) -> bool:
        """Whether a complete artifact with this digest is stored."""
        path = self._object_path(digest) if kind == "file" else self._manifest_path(digest)
        if self.is_local:
            return os.path.exists(path)
        return bool(self.fs.exists(path))

    def materialize(self, digest: str, kind: Kind, *, verify: bool = True) -> Path:
        """A local path holding the artifact; its content is checked against the digest."""
        if not self.exists(digest, kind):
            raise ArtifactNotFound(
                f"artifact {kind} {digest[:12]} is not in the artifact store at {self.url}; "
                "it may have been deleted — run the pipeline again without its cache",
                digest=digest,
            )
        if self.is_local:
            local = Path(self._object_path(digest) if kind == "file" else self._tree_path(digest))
        else:
            local = self._download(digest, kind)
        if verify:
            self.verify(digest, kind, local)
        return local

    def read_bytes(self, digest: str) -> bytes:
        """The verified bytes of a file artifact."""
        return self.materialize(digest, "file").read_bytes()

    def verify(self, digest: str, kind: Kind, local: Path) -> None:
        """Raise ``ArtifactCorrupted`` when the bytes at ``local`` do not hash to ``digest``."""
        try:
            actual = file_digest(local) if kind == "file" else tree_digest(local)
        except OSError as exc:
            raise ArtifactCorrupted(
                f"artifact {digest[:12]} cannot be read ({exc})", digest=digest, actual=""
            ) from exc
        if actual != digest:
            raise ArtifactCorrupted(
                f"artifact {digest[:12]} is corrupted: its bytes now hash to {actual[:12]}; "
                "delete it from the artifact store and re-run the step that made it "
                "without the cache",
                digest=digest,
                actual=actual,
            )

    def _download(self, digest: str, kind: Kind) -> Path:
        cache = self._cache_dir or Path.home() / ".cache" / "shipyard" / "artifacts"
        target = cache / digest
        if target.exists():
            return target
        staging = cache / f"{digest}.{uuid.uuid4().hex}.part"
        cache.mkdir(parents=True, exist_ok=True)
        try:
            if kind == "file":
                self.fs.get_file(self._object_path(digest), str(staging))
            else:
                self.fs.get(self._tree_path(digest) + "/", str(staging), recursive=True)
            os.replace(staging, target)
        except OSError as exc:
            raise ArtifactError(f"cannot download artifact {digest[:12]}: {exc}") from exc
        return target
