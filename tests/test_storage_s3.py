"""corridos.storage and the dataset stage against a real S3 server (Ceph radosgw on loopback)."""

import json
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import boto3
import pytest

from corridos import storage
from corridos.symbolic.dataset import build_dataset
from tests.helpers import band

pytestmark = pytest.mark.slow

CORRUPT_MIDI = b"MThd\x00\x00\x00\x06\x00\x01\x00\x02garbage"


@pytest.fixture
def prefix(s3_server, request):
    """An S3 prefix of its own for each test, in the session's one bucket."""
    return f"s3://{s3_server.bucket}/{request.node.name}"


@pytest.fixture
def s3(s3_server):
    """A plain boto3 client, to check what storage wrote without going through storage."""
    return boto3.client("s3")


def keys(s3, bucket, prefix):
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def test_write_read_and_list(prefix):
    for key, data in {
        "b.mid": b"b",
        "a.mid": b"a",
        "deeper/c.mid": b"c",
        ".hidden": b"h",
        "dot/.git/x": b"x",
        "empty-folder/": b"",
    }.items():
        storage.write_bytes(f"{prefix}/folder/{key}", data)
    storage.write_bytes(f"{prefix}/folder-sibling/d.mid", b"d")

    listed = [f"{prefix}/folder/{name}" for name in ("a.mid", "b.mid", "deeper/c.mid")]
    assert storage.list_files(f"{prefix}/folder") == listed
    assert storage.list_files(f"{prefix}/folder/") == listed
    assert storage.read_bytes(f"{prefix}/folder/deeper/c.mid") == b"c"
    assert storage.list_files(f"{prefix}/nothing-here/") == []


def test_a_dot_in_the_prefix_itself_hides_nothing(prefix):
    storage.write_bytes(f"{prefix}/.staging/midi/a.mid", b"a")
    assert storage.list_files(f"{prefix}/.staging/midi/") == [f"{prefix}/.staging/midi/a.mid"]


def test_local_copy_of_a_prefix_downloads_the_tree_once(prefix, tmp_path):
    storage.write_bytes(f"{prefix}/model/weights.bin", bytes(range(256)) * 1000)
    storage.write_bytes(f"{prefix}/model/assets/vocabulary.json", b"{}")

    local = storage.local_copy(f"{prefix}/model/", tmp_path / "cache")
    assert local.name == "model"
    assert sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file()) == [
        "assets/vocabulary.json",
        "weights.bin",
    ]
    assert (local / "weights.bin").read_bytes() == bytes(range(256)) * 1000

    storage.write_bytes(f"{prefix}/model/weights.bin", b"changed")  # the cache is keyed by URI
    assert storage.local_copy(f"{prefix}/model", tmp_path / "cache") == local
    assert (local / "weights.bin").read_bytes() == bytes(range(256)) * 1000


def test_local_copy_of_a_single_object(prefix, tmp_path):
    storage.write_bytes(f"{prefix}/songs/one.mid", b"MThd...")
    assert storage.list_files(f"{prefix}/songs/one.mid") == [f"{prefix}/songs/one.mid"]  # like a file path
    local = storage.local_copy(f"{prefix}/songs/one.mid", tmp_path / "cache")
    assert local.is_file() and local.name == "one.mid" and local.read_bytes() == b"MThd..."


def test_upload_folder_keeps_the_tree(prefix, tmp_path, s3, s3_server):
    (tmp_path / "out" / "shards").mkdir(parents=True)
    (tmp_path / "out" / "manifest.json").write_text("{}")
    (tmp_path / "out" / "shards" / "train-00000.npz").write_bytes(b"npz")

    uploaded = storage.upload_folder(tmp_path / "out", f"{prefix}/dataset/")
    assert uploaded == [f"{prefix}/dataset/manifest.json", f"{prefix}/dataset/shards/train-00000.npz"]
    key_prefix = storage.split_s3(prefix)[1]
    assert keys(s3, s3_server.bucket, key_prefix) == [storage.split_s3(uri)[1] for uri in uploaded]
    assert storage.read_bytes(f"{prefix}/dataset/shards/train-00000.npz") == b"npz"


def test_forked_workers_get_their_own_connections(prefix):
    """The dataset stage reads objects from a fork pool; workers sharing the parent's connection
    got each other's responses."""
    uris = [f"{prefix}/many/{i:02d}.bin" for i in range(40)]
    for i, uri in enumerate(uris):
        storage.write_bytes(uri, str(i).encode() * 1000)
    assert storage.list_files(f"{prefix}/many") == uris  # leaves an open connection in the parent
    with ProcessPoolExecutor(2, mp_context=get_context("fork")) as pool:
        assert list(pool.map(storage.read_bytes, uris)) == [str(i).encode() * 1000 for i in range(40)]


@pytest.fixture
def midi_folder(write, tmp_path):
    """Nine files: eight songs and a corrupt one, enough for the build to use its worker pool."""
    for seed in range(8):
        write(band(seed), f"Artist {seed % 3} - Song {seed}.mid")
    (tmp_path / "midi" / "corrupt.mid").write_bytes(CORRUPT_MIDI)
    return tmp_path / "midi"


def test_dataset_from_s3_equals_the_one_from_a_folder(midi_folder, prefix, tmp_path):
    source = f"{prefix}/midi/"
    storage.upload_folder(midi_folder, source)

    from_s3 = build_dataset(source, tmp_path / "from-s3", progress=False)
    from_folder = build_dataset(midi_folder, tmp_path / "from-folder", progress=False)

    manifest = json.loads((from_s3.out_dir / "manifest.json").read_text())
    assert manifest["source"] == source
    assert {f["uri"] for f in manifest["files"]} == {source + p.name for p in midi_folder.iterdir()}
    corrupt = next(f for f in manifest["files"] if f["name"] == "corrupt.mid")
    assert corrupt["status"] == "skipped" and corrupt["reason"].startswith("corrupt MIDI")
    assert from_s3.report == from_folder.report
    assert from_s3.report["files"] == {"total": 9, "used": 8, "skipped": 1}
    assert list((from_s3.out_dir / "pianorolls").glob("*.png"))  # drawn from the S3 objects too
