from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest

from shipyard import ArtifactCorrupted, ArtifactNotFound
from shipyard.artifacts import ArtifactStore, file_digest, tree_digest
from tests.helpers import run_python

WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    """A local store, an in-memory fsspec store, and S3 on a real (loopback) server."""
    if request.param == "local":
        return ArtifactStore(str(tmp_path / "artifacts"), cache_dir=tmp_path / "cache")
    if request.param == "s3":
        return ArtifactStore(request.getfixturevalue("s3_url"), cache_dir=tmp_path / "cache")
    return ArtifactStore(f"memory://{uuid.uuid4().hex}", cache_dir=tmp_path / "cache")


def make_tree(root: Path, order: list[str]) -> Path:
    root.mkdir()
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}")
    return root


def test_same_bytes_are_stored_once(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"hello")
    (tmp_path / "b").write_bytes(b"hello")
    first = store.put(tmp_path / "a")
    second = store.put(tmp_path / "b")
    assert first == second
    assert first.kind == "file" and first.size == 5
    assert store.read_bytes(first.digest) == b"hello"
    objects = [p for p in store.fs.find(f"{store.root}/objects")]
    assert len(objects) == 1


def test_folder_digest_ignores_creation_order_and_times(tmp_path: Path) -> None:
    a = make_tree(tmp_path / "a", ["x.txt", "sub/y.txt", "sub/z.txt"])
    b = make_tree(tmp_path / "b", ["sub/z.txt", "x.txt", "sub/y.txt"])
    os.utime(b / "x.txt", (0, 0))
    assert tree_digest(a) == tree_digest(b)
    (b / "sub" / "y.txt").write_text("changed")
    assert tree_digest(a) != tree_digest(b)


def test_folders_round_trip(store: ArtifactStore, tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", ["x.txt", "sub/y.txt"])
    blob = store.put(tree)
    assert blob.kind == "dir"
    assert blob.digest == tree_digest(tree)
    assert store.exists(blob.digest, "dir")
    local = store.materialize(blob.digest, "dir")
    assert (local / "sub" / "y.txt").read_text() == "content of sub/y.txt"
    assert store.put(tree) == blob


def test_missing_artifact_is_a_clear_error(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFound, match="is not in the artifact store"):
        store.materialize("0" * 64, "file")


def test_corrupted_file_is_detected_on_read(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "artifacts"))
    (tmp_path / "a").write_bytes(b"precious")
    blob = store.put(tmp_path / "a")
    stored = Path(blob.uri)
    # Mode bits, not os.access: root may write to any file, read-only or not.
    assert stat.S_IMODE(stored.stat().st_mode) & WRITE_BITS == 0
    stored.chmod(0o644)
    stored.write_bytes(b"tampered")
    with pytest.raises(ArtifactCorrupted, match="is corrupted") as caught:
        store.read_bytes(blob.digest)
    assert caught.value.actual == file_digest(stored)


def test_corrupted_folder_is_detected_on_read(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "artifacts"))
    blob = store.put(make_tree(tmp_path / "tree", ["x.txt", "sub/y.txt"]))
    target = Path(blob.uri) / "sub" / "y.txt"
    assert stat.S_IMODE(target.stat().st_mode) & WRITE_BITS == 0
    target.chmod(0o644)
    target.write_text("tampered")
    with pytest.raises(ArtifactCorrupted):
        store.materialize(blob.digest, "dir")


def test_a_folder_without_its_manifest_is_not_complete(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "artifacts"))
    tree = make_tree(tmp_path / "tree", ["x.txt"])
    blob = store.put(tree)
    # Simulate a crash between placing the folder and writing its manifest.
    Path(store._manifest_path(blob.digest)).unlink()
    assert not store.exists(blob.digest, "dir")
    with pytest.raises(ArtifactNotFound):
        store.materialize(blob.digest, "dir")
    assert store.put(tree) == blob
    assert store.exists(blob.digest, "dir")


def test_staged_partial_writes_are_not_artifacts(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "artifacts"))
    digest = "ab" * 32
    (tmp_path / "artifacts" / "tmp" / "half-written").write_bytes(b"par")
    assert not store.exists(digest, "file")


def test_store_survives_pickling_with_only_its_url(tmp_path: Path) -> None:
    import pickle

    store = ArtifactStore(str(tmp_path / "artifacts"))
    (tmp_path / "a").write_bytes(b"x")
    blob = store.put(tmp_path / "a")
    copy = pickle.loads(pickle.dumps(store))
    assert copy.read_bytes(blob.digest) == b"x"


# Without "://" a store skips fsspec; its root must stay what fsspec gives (recorded URIs
# and other processes' stores depend on it).  "file://" still goes through fsspec.
FOLDER_URLS = [
    "artifacts",
    "./artifacts",
    "artifacts/",
    "sub/../artifacts",
    ".",
    "~/artifacts",
    "~",
    "{tmp}/absolute",
    "{tmp}/absolute//",
    "{tmp}/with:colon",
    "file://{tmp}/by-url",
]


@pytest.mark.parametrize("template", FOLDER_URLS)
def test_a_folder_store_has_the_root_fsspec_gives(
    template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    url = template.format(tmp=tmp_path)
    fs, root = fsspec.core.url_to_fs(url.rstrip("/"))
    store = ArtifactStore(url)
    assert store.root == root.rstrip("/")
    assert store.is_local and isinstance(fs, LocalFileSystem)
    assert isinstance(store.fs, LocalFileSystem)
    assert Path(store.root, "tmp").is_dir()


def test_a_folder_store_reads_and_writes_without_fsspec(tmp_path: Path) -> None:
    # Commands that only read a local store would pay fsspec's import for nothing.
    script = (
        "import pickle, sys\n"
        "from pathlib import Path\n"
        "from shipyard.artifacts import ArtifactStore\n"
        "store = ArtifactStore('artifacts')\n"
        "Path('a').write_bytes(b'hello')\n"
        "Path('tree/sub').mkdir(parents=True)\n"
        "Path('tree/sub/y.txt').write_text('y')\n"
        "blob = store.put(Path('a'))\n"
        "tree = store.put(Path('tree'))\n"
        "store.put(Path('a'))  # already stored\n"
        "copy = pickle.loads(pickle.dumps(store))\n"
        "print(copy.read_bytes(blob.digest).decode())\n"
        "print((copy.materialize(tree.digest, 'dir') / 'sub' / 'y.txt').read_text())\n"
        "print(copy.exists(blob.digest, 'file'), tree.uri == copy.uri(tree.digest, 'dir'))\n"
        "print('fsspec' in sys.modules)\n"
    )
    result = run_python(script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n") == ["hello", "y", "True True", "False", ""]


def test_a_working_folder_is_kept_per_key(store: ArtifactStore, tmp_path: Path) -> None:
    from shipyard.errors import ArtifactError

    key = "ab" + "0" * 62
    folder = store.work_folder(key)
    (folder / "state").write_text("kept")
    # Local stores keep it beside the artifacts; remote ones in the local cache folder.
    assert folder.is_relative_to(tmp_path / ("artifacts" if store.is_local else "cache"))
    assert (store.work_folder(key) / "state").read_text() == "kept"
    assert store.work_folder("cd" + "0" * 62) != folder
    for bad in ("", "../escape", "a/b"):
        with pytest.raises(ArtifactError, match="letters and digits"):
            store.work_folder(bad)
