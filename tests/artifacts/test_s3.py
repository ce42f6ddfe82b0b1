"""The artifact store on S3: a real S3-compatible server (moto's) on loopback, via s3fs.

The conformance tests in ``test_store.py`` also run on S3; these cover what only an
object store has: a local cache, objects changed behind the store's back, uploads that
stop half-way, and the failures a user meets first (no credentials, no bucket).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import s3fs

from shipyard import ArtifactCorrupted, ArtifactError, ArtifactNotFound
from shipyard.artifacts import ArtifactStore, file_digest
from tests.helpers import S3Server

WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def client(server: S3Server) -> Any:
    """A plain S3 client, standing for someone who changes the bucket by hand."""
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
    )


def key_of(uri: str) -> str:
    """The object key of an ``s3://bucket/key`` URI."""
    return uri.removeprefix("s3://").split("/", 1)[1]


def make_tree(root: Path, files: int, *, size: int = 64) -> Path:
    for number in range(files):
        path = root / f"part-{number % 7}" / f"file-{number:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(number.to_bytes(4, "big") * (size // 4))
    return root


def test_a_file_is_downloaded_once_into_the_cache(
    s3_url: str, s3_environment: S3Server, tmp_path: Path
) -> None:
    store = ArtifactStore(s3_url, cache_dir=tmp_path / "cache")
    (tmp_path / "model.bin").write_bytes(b"weights" * 1000)
    blob = store.put(tmp_path / "model.bin")
    assert blob.uri == f"{s3_url}/objects/{blob.digest[:2]}/{blob.digest}"
    stored = client(s3_environment).get_object(Bucket=s3_environment.bucket, Key=key_of(blob.uri))
    assert stored["Body"].read() == b"weights" * 1000
    local = store.materialize(blob.digest, "file")
    assert local.parent == tmp_path / "cache"
    assert local.read_bytes() == b"weights" * 1000
    # Another store on the same URL (another process, another machine) reads it too.
    other = ArtifactStore(s3_url, cache_dir=tmp_path / "other-cache")
    assert other.exists(blob.digest, "file")
    assert other.read_bytes(blob.digest) == b"weights" * 1000
    # A verified cached copy is read without asking the server again.
    client(s3_environment).delete_object(Bucket=s3_environment.bucket, Key=key_of(blob.uri))
    assert store.read_bytes(blob.digest) == b"weights" * 1000
    with pytest.raises(ArtifactNotFound):
        ArtifactStore(s3_url, cache_dir=tmp_path / "empty-cache").read_bytes(blob.digest)


def test_a_damaged_cached_copy_is_fetched_again(s3_url: str, tmp_path: Path) -> None:
    store = ArtifactStore(s3_url, cache_dir=tmp_path / "cache")
    blob = store.put(make_tree(tmp_path / "tree", 3))
    local = store.materialize(blob.digest, "dir")
    cached = local / "part-1" / "file-0001.bin"
    assert stat.S_IMODE(cached.stat().st_mode) & WRITE_BITS == 0
    cached.chmod(0o644)
    cached.write_bytes(b"edited by a careless reader")
    assert store.materialize(blob.digest, "dir") == local
    assert cached.read_bytes() == (1).to_bytes(4, "big") * 16


def test_a_manifest_naming_files_outside_its_folder_is_refused(
    s3_url: str, s3_environment: S3Server, tmp_path: Path
) -> None:
    store = ArtifactStore(s3_url, cache_dir=tmp_path / "cache")
    digest = "ab" * 32
    manifest = {"files": {"../../escaped": ["0" * 64, 1]}}
    client(s3_environment).put_object(
        Bucket=s3_environment.bucket,
        Key=key_of(f"{s3_url}/trees/ab/{digest}.json"),
        Body=json.dumps(manifest).encode(),
    )
    assert store.exists(digest, "dir")
    with pytest.raises(ArtifactCorrupted, match="outside the folder"):
        store.materialize(digest, "dir")
    assert not list(tmp_path.rglob("escaped"))


def test_an_empty_folder_round_trips(s3_url: str, tmp_path: Path) -> None:
    store = ArtifactStore(s3_url, cache_dir=tmp_path / "cache")
    (tmp_path / "empty").mkdir()
    blob = store.put(tmp_path / "empty")
    assert store.exists(blob.digest, "dir")
    local = store.materialize(blob.digest, "dir")
    assert local.is_dir() and not any(local.iterdir())


def test_an_object_changed_on_the_server_is_detected_and_not_cached(
    s3_url: str, s3_environment: S3Server, tmp_path: Path
) -> None:
    store = ArtifactStore(s3_url, cache_dir=tmp_path / "cache")
    (tmp_path / "a").write_bytes(b"precious")
    blob = store.put(tmp_path / "a")
    client(s3_environment).put_object(
        Bucket=s3_environment.bucket, Key=key_of(blob.uri), Body=b"tampered"
    )
    for _ in range(2):  # the bad bytes never enter the cache: the second read fails too
        with pytest.raises(ArtifactCorrupted, match="is corrupted") as caught:
            store.read_bytes(blob.digest)
        assert s3_url in str(caught.value)
    assert caught.value.actual != blob.digest
    assert not list((tmp_path / "cache").iterdir())


def test_a_file_changed_inside_a_stored_folder_is_detected(
    s3_url: str, s3_environment: S3Server, tmp_path: Path
) -> None:
    store = ArtifactStore(s3_url, cache_dir=tmp_path / "cache")
    blob = store.put(make_tree(tmp_path / "tree", 5))
    client(s3_environment).put_object(
        Bucket=s3_environment.bucket,
        Key=f"{key_of(blob.uri)}/part-3/file-0003.bin",
        Body=b"tampered",
    )
    with pytest.raises(ArtifactCorrupted):
        store.materialize(blob.digest, "dir")


def test_a_folder_without_its_manifest_is_not_stored(
    s3_url: str, s3_environment: S3Server, tmp_path: Path
) -> None:
    store = ArtifactStore(s3_url, cache_dir=tmp_path / "cache")
    tree = make_tree(tmp_path / "tree", 5)
    blob = store.put(tree)
    # As after a crash between the folder's files and its manifest.
    client(s3_environment).delete_object(
        Bucket=s3_environment.bucket, Key=f"{key_of(blob.uri)}.json"
    )
    assert not store.exists(blob.digest, "dir")
    with pytest.raises(ArtifactNotFound, match="is not in the artifact store"):
        store.materialize(blob.digest, "dir")
    assert store.put(tree) == blob
    assert (store.materialize(blob.digest, "dir") / "part-3" / "file-0003.bin").exists()


UPLOAD = """
import sys
from pathlib import Path
from shipyard.artifacts import ArtifactStore
ArtifactStore(sys.argv[1]).put(Path(sys.argv[2]))
"""


def test_an_upload_killed_half_way_leaves_no_artifact(
    s3_url: str, s3_environment: S3Server, tmp_path: Path
) -> None:
    tree = make_tree(tmp_path / "tree", 300)
    store = ArtifactStore(s3_url, cache_dir=tmp_path / "cache")
    fs = s3fs.S3FileSystem()
    uploader = subprocess.Popen(
        [sys.executable, "-c", UPLOAD, s3_url, str(tree)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        uploaded: list[str] = []
        deadline = time.monotonic() + 60
        while not uploaded and time.monotonic() < deadline:
            fs.invalidate_cache()
            uploaded = fs.find(f"{s3_url}/trees")
        uploader.send_signal(signal.SIGKILL)
    finally:
        uploader.wait()
    assert uploaded, "the uploader wrote nothing within 60 s"
    fs.invalidate_cache()
    left = fs.find(f"{s3_url}/trees")
    assert not [name for name in left if name.endswith(".json")], "the upload finished first"
    assert 0 < len(left) <= 300
    digest = left[0].split("/")[-3]
    assert not store.exists(digest, "dir")
    with pytest.raises(ArtifactNotFound):
        store.materialize(digest, "dir")
    # Storing it again completes it.
    blob = store.put(tree)
    assert blob.digest == digest
    assert len(list((store.materialize(digest, "dir")).rglob("*.bin"))) == 300


def test_a_reader_never_sees_an_artifact_before_it_is_whole(s3_url: str, tmp_path: Path) -> None:
    writer = ArtifactStore(s3_url, cache_dir=tmp_path / "writer-cache")
    tree = make_tree(tmp_path / "tree", 120, size=4096)
    (tmp_path / "big.bin").write_bytes(os.urandom(8 << 20))
    expected = {"dir": writer.put(tree).digest, "file": file_digest(tmp_path / "big.bin")}
    # Stored already to learn its digest; a fresh prefix for the real run.
    fresh = f"{s3_url}-fresh"
    writer = ArtifactStore(fresh, cache_dir=tmp_path / "writer-cache")
    reader = ArtifactStore(fresh, cache_dir=tmp_path / "reader-cache")
    failures: list[BaseException] = []

    def write() -> None:
        try:
            writer.put(tmp_path / "big.bin")
            writer.put(tree)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    seen: dict[str, int] = {"dir": 0, "file": 0}
    while thread.is_alive() or not all(seen.values()):
        for kind, digest in expected.items():
            if not seen[kind] and reader.exists(digest, kind):  # type: ignore[arg-type]
                reader.materialize(digest, kind)  # type: ignore[arg-type]
                seen[kind] += 1
        if not thread.is_alive() and failures:
            break
    thread.join()
    assert not failures
    assert seen == {"dir": 1, "file": 1}


def test_no_bucket_is_a_clear_error_naming_the_store(
    s3_environment: S3Server, tmp_path: Path
) -> None:
    url = "s3://no-such-bucket/artifacts"
    store = ArtifactStore(url, cache_dir=tmp_path / "cache")
    (tmp_path / "a").write_bytes(b"x")
    with pytest.raises(ArtifactError, match="bucket does not exist") as caught:
        store.put(tmp_path / "a")
    assert url in str(caught.value)
    with pytest.raises(ArtifactError, match="the bucket 'no-such-bucket' does not exist"):
        store.materialize("0" * 64, "file")


def test_no_credentials_is_a_clear_error_naming_the_store(
    s3_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = ArtifactStore(s3_url, cache_dir=tmp_path / "cache")
    (tmp_path / "a").write_bytes(b"x")
    with pytest.raises(ArtifactError, match="no credentials were found") as caught:
        store.put(tmp_path / "a")
    assert s3_url in str(caught.value)
    with pytest.raises(ArtifactError, match="no credentials were found"):
        store.exists("0" * 64, "file")


def test_credentials_in_the_url_are_refused_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="holds credentials") as caught:
        ArtifactStore("s3://AKIAEXAMPLE:hunter2@bucket/prefix")
    assert "hunter2" not in str(caught.value) and "AKIAEXAMPLE" not in str(caught.value)


def test_error_messages_leave_out_secrets_the_back_end_echoes(
    s3_url: str, s3_environment: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A bucket name cannot hold '+' or '=': the back end quotes the name in its error.
    url = f"s3://{s3_environment.secret_key}+=/prefix"
    store = ArtifactStore(url, cache_dir=tmp_path / "cache")
    (tmp_path / "a").write_bytes(b"x")
    with pytest.raises(ArtifactError) as caught:
        store.put(tmp_path / "a")
    assert s3_environment.secret_key not in str(caught.value)
    assert "***" in str(caught.value)
