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

On an object store (``s3://bucket/prefix``) artifacts are downloaded into a local cache,
checked before they enter it, and read from there.  Credentials and the endpoint come
from the back end's usual settings (for S3: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, ``AWS_ENDPOINT_URL`` for S3-compatible
servers); shipyard never records them, and its error messages leave them out.

A plain folder path (the default) is read and written with ``os`` and ``shutil``: fsspec,
which takes tens of milliseconds to import, is loaded only for URLs and for callers that
ask a local store for its ``fs``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from shipyard.artifacts.hashing import file_digest, tree_digest, tree_digest_of, tree_manifest
from shipyard.errors import ArtifactCorrupted, ArtifactError, ArtifactNotFound, ShipyardError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

Kind = Literal["file", "dir"]
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
# Secrets a back end's message might echo; their values are cut out of every error.
_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
# Prefixes fsspec reads as a protocol even without "://" (LocalFileSystem strips "file:"
# and "local:"; "data:" is a protocol of its own).
_PROTOCOL_PREFIXES = ("file:", "local:", "data:")


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
        if _USERINFO.search(self.url):
            # A URL is logged and recorded (artifact URIs); a secret in it would be too.
            raise ArtifactError(
                f"the artifact store URL {_redacted(self.url)} holds credentials; remove "
                "them and set them the back end's usual way (for S3: AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
            )
        root = _local_root(self.url)
        if root is None:
            root = self._open_url()
        else:
            # A plain folder: every local operation below uses os and shutil, so fsspec
            # is imported only if a caller asks for ``fs``.
            self.is_local = True
        self.root = root.rstrip("/")
        self.display_url = _redacted(self.url)
        if self.is_local:
            Path(self.root, "tmp").mkdir(parents=True, exist_ok=True)
        self._cache_dir = cache_dir

    def _open_url(self) -> str:
        """Open a URL's file system through fsspec; return the store's root on it."""
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        try:
            fs, root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise ArtifactError(
                f"cannot open the artifact store at {_redacted(self.url)}: {_redacted(str(exc))}; "
                "for s3:// URLs install 'shipyard[s3]'"
            ) from exc
        self.fs = fs  # takes the place of the lazy property below
        self.is_local = isinstance(fs, LocalFileSystem)
        return str(root)

    @cached_property
    def fs(self) -> AbstractFileSystem:
        """The store's fsspec file system; a plain folder's is made on first use."""
        import fsspec

        # What ``fsspec.core.url_to_fs`` gives for a path without a protocol.
        return fsspec.filesystem("file")

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
        if self.is_local:
            return path
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return f"{protocol}://{path}"

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
        with self._failures(f"store {path}"):
            if not self._exists(final):
                if self.is_local:
                    staging = Path(self.root, "tmp", uuid.uuid4().hex)
                    shutil.copyfile(path, staging)
                    staging.chmod(_READ_ONLY)
                    Path(final).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staging, final)
                else:
                    # One PUT (or one multipart upload, completed at once): readers see
                    # the whole object or nothing.
                    self.fs.put_file(str(path), final)
        return StoredBlob(digest=digest, kind="file", size=size, uri=self.uri(digest, "file"))

    def _put_tree(self, path: Path) -> StoredBlob:
        manifest = tree_manifest(path)
        digest = tree_digest_of([(name, manifest[name][0]) for name in sorted(manifest)])
        size = sum(entry[1] for entry in manifest.values())
        blob = StoredBlob(digest=digest, kind="dir", size=size, uri=self.uri(digest, "dir"))
        manifest_path = self._manifest_path(digest)
        with self._failures(f"store folder {path}"):
            if self._exists(manifest_path):
                return blob
            final = self._tree_path(digest)
            if self.is_local:
                self._place_local_tree(path, Path(final))
            elif manifest:
                # Object stores have no rename: upload in place (each PUT is atomic and
                # idempotent for identical content); the manifest below marks completion.
                # Exactly the manifest's files go up: readers download what it names.
                names = sorted(manifest)
                self.fs.put([str(path / name) for name in names], [f"{final}/{n}" for n in names])
            body = json.dumps({"files": manifest}, sort_keys=True).encode()
            self._write_atomic(manifest_path, body)
        return blob

    def _place_local_tree(self, source: Path, final: Path) -> None:
        if final.exists():
            # A rename is atomic, so a folder already in place is complete; only its
            # manifest can be missing (a crash between the two writes).
            return
        staging = Path(self.root, "tmp", uuid.uuid4().hex)
        shutil.copytree(source, staging)
        _make_read_only(staging)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, final)
        except OSError:
            if not final.exists():
                raise
            shutil.rmtree(staging)  # another process placed the same tree first

    def _exists(self, path: str) -> bool:
        # Locally, what LocalFileSystem.exists does, without importing fsspec.
        return os.path.exists(path) if self.is_local else bool(self.fs.exists(path))

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
        with self._failures(f"look up artifact {digest[:12]}"):
            # Another process may have written it since this one listed the folder.
            self.fs.invalidate_cache(path)
            return bool(self.fs.exists(path))

    def materialize(self, digest: str, kind: Kind, *, verify: bool = True) -> Path:
        """A local path holding the artifact; its content is checked against the digest.

        Artifacts of an object store are downloaded into the local cache once, and only
        when their bytes match ``digest``; a cached copy that still matches is used
        without asking the store again."""
        if not self.is_local:
            cached = self._cached(digest, kind, verify=verify)
            if cached is not None:
                return cached
        if not self.exists(digest, kind):
            self._check_container()
            raise ArtifactNotFound(
                f"artifact {kind} {digest[:12]} is not in the artifact store at "
                f"{self.display_url}; it may have been deleted — run the pipeline again "
                "without its cache",
                digest=digest,
            )
        if not self.is_local:
            return self._download(digest, kind, self._cache_path(digest))
        local = Path(self._object_path(digest) if kind == "file" else self._tree_path(digest))
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
                f"artifact {digest[:12]} in {self.display_url} is corrupted: its bytes now "
                f"hash to {actual[:12]}; delete it from the artifact store and re-run the "
                "step that made it without the cache",
                digest=digest,
                actual=actual,
            )

    def _cache_path(self, digest: str) -> Path:
        cache = self._cache_dir or Path.home() / ".cache" / "shipyard" / "artifacts"
        return cache / digest

    def _cached(self, digest: str, kind: Kind, *, verify: bool) -> Path | None:
        """The cached copy of an artifact, if there is one (that matches its digest)."""
        target = self._cache_path(digest)
        if not target.exists():
            return None
        if not verify:
            return target
        try:
            self.verify(digest, kind, target)
        except ArtifactCorrupted:
            # The local copy was damaged, not the stored one: fetch it again.
            _remove(target)
            return None
        return target

    def _download(self, digest: str, kind: Kind, target: Path) -> Path:
        staging = target.with_name(f"{digest}.{uuid.uuid4().hex}.part")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._failures(f"download artifact {digest[:12]}"):
                if kind == "file":
                    self.fs.get_file(self._object_path(digest), str(staging))
                else:
                    self._download_tree(digest, staging)
            # Only bytes that match their digest enter the cache: a corrupted object
            # fails here, every time, rather than once and then from a bad cached copy.
            self.verify(digest, kind, staging)
            _make_read_only(staging)  # as in a local store: readers must not edit it
            try:
                os.replace(staging, target)
            except OSError:
                if not target.exists():
                    raise
                # Another process cached the same artifact first.
        finally:
            if staging.exists():
                _remove(staging)
        return target

    def _download_tree(self, digest: str, staging: Path) -> None:
        # The manifest names the files: no listing, nothing left over from an earlier
        # interrupted upload, and an empty folder comes back empty.
        files = json.loads(self.fs.cat_file(self._manifest_path(digest)))["files"]
        staging.mkdir()
        names = sorted(files)
        for name in names:
            if name.startswith("/") or ".." in name.split("/"):
                raise ArtifactCorrupted(
                    f"artifact {digest[:12]} in {self.display_url} is corrupted: its manifest "
                    f"names a file outside the folder ({name!r}); delete it from the "
                    "artifact store",
                    digest=digest,
                    actual="",
                )
        for name in names:
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
        if names:
            remote = self._tree_path(digest)
            self.fs.get([f"{remote}/{n}" for n in names], [str(staging / n) for n in names])

    # -- failures -------------------------------------------------------------------

    @contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        """Turn a back end's exception into an ``ArtifactError`` naming the store."""
        try:
            yield
        except ShipyardError:
            raise
        except Exception as exc:  # each fsspec back end raises its own (botocore, ...)
            if self.is_local and not isinstance(exc, OSError):
                raise
            raise ArtifactError(
                f"cannot {action} in the artifact store at {self.display_url}: {_reason(exc)}"
            ) from exc

    def _check_container(self) -> None:
        """Raise a clear error when an object store's bucket itself is missing."""
        bucket = self.root.split("/", 1)[0]
        if self.is_local or not bucket:
            return
        with self._failures("open the bucket"):
            found = self.fs.exists(bucket)
        if not found:
            raise ArtifactError(
                f"the artifact store at {self.display_url} cannot be used: the bucket "
                f"{bucket!r} does not exist — create it, or fix store.artifacts "
                "(SHIPYARD_ARTIFACTS_URL)"
            )


def _local_root(url: str) -> str | None:
    """The root fsspec would give a plain folder path, or None when fsspec must decide.

    This mirrors ``fsspec.core.url_to_fs`` for a path without a protocol on POSIX
    (``LocalFileSystem._strip_protocol`` and ``make_path_posix``): ``~`` is expanded, a
    relative path is prefixed with the working folder (``./`` dropped, nothing else
    normalised) and trailing slashes go.  Anything fsspec reads as more than a path
    (``s3://``, ``file:``, ``data:``, chained ``a::b``) or a Windows path is left to
    fsspec; a test holds the two to agreement.

    >>> _local_root("/srv/artifacts/")
    '/srv/artifacts'
    """
    if os.sep != "/" or "://" in url or "::" in url or url.startswith(_PROTOCOL_PREFIXES):
        return None
    if url.startswith("/"):
        path = url
    elif url.startswith("~"):
        path = os.path.expanduser(url)
    else:
        relative = "" if url == "." else url.removeprefix("./")
        path = f"{os.getcwd()}/{relative}"
    return path.rstrip("/") or "/"


def _make_read_only(path: Path) -> None:
    """Drop the write bits of a file, or of every file in a folder."""
    if path.is_file():
        path.chmod(_READ_ONLY)
        return
    for folder, _dirs, files in os.walk(path):
        for name in files:
            Path(folder, name).chmod(_READ_ONLY)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _redacted(text: str) -> str:
    """``text`` without credentials: no ``user:password@`` in URLs, and none of the
    values of the usual secret variables.

    >>> _redacted("s3://key:secret@bucket/prefix")
    's3://***@bucket/prefix'
    """
    text = _USERINFO.sub("***@", text)
    for name in _SECRET_VARIABLES:
        value = os.environ.get(name, "")
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text


def _reason(exc: Exception) -> str:
    """What went wrong, for a person, with a hint for the failures people meet."""
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return (
            "no credentials were found — set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or AWS_PROFILE)"
        )
    if isinstance(exc, PermissionError):
        return f"access denied ({_redacted(str(exc))}) — check the credentials and their rights"
    if "bucket does not exist" in str(exc):
        return "the bucket does not exist — create it, or fix store.artifacts"
    return " ".join(_redacted(str(exc)).split()) or name
