"""All object-store and file I/O: a location is a local path or an s3://bucket/prefix URI.

S3 goes through boto3. The endpoint comes from MLFLOW_S3_ENDPOINT_URL (what MLflow uses) or
AWS_ENDPOINT_URL (what boto3 reads itself), credentials from the usual AWS variables.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from corridos.errors import BadInputError


def is_s3(location: str | Path) -> bool:
    return str(location).startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b')."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise BadInputError(uri, "not an s3://bucket/key URI")
    return bucket, key


@functools.cache
def s3_client():
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    retries = {"max_attempts": 5, "mode": "standard"}
    return boto3.client("s3", endpoint_url=endpoint, config=Config(retries=retries))


# A forked worker (the dataset stage's pool) would inherit the parent's client and its open
# connections; two processes reading one socket get each other's responses (files swapped).
os.register_at_fork(after_in_child=s3_client.cache_clear)


def list_files(location: str | Path) -> list[str]:
    """Every file under a folder or S3 prefix (recursively, hidden files excluded), sorted."""
    if is_s3(location):
        bucket, prefix = split_s3(str(location))
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        # hidden below the prefix, as for a folder: a dot in the prefix itself hides nothing
        visible = [key for key in keys if not _is_hidden(key.removeprefix(prefix)) and not key.endswith("/")]
        if not visible and _s3_object_exists(bucket, prefix.rstrip("/")):
            return [str(location)]  # the URI names one object, as a path may name one file
        return sorted(f"s3://{bucket}/{key}" for key in visible)
    root = Path(location)
    if root.is_file():
        return [str(root)]
    if not root.is_dir():
        raise FileNotFoundError(f"{location}: no such folder")
    # A symlink that leads nowhere (broken, or a loop) is listed too: reading it fails, and the
    # stage records it as skipped with the reason instead of leaving it out unseen.
    return sorted(
        str(p)
        for p in root.rglob("*")
        if (p.is_file() or (p.is_symlink() and not p.is_dir())) and not _is_hidden(str(p.relative_to(root)))
    )


def _s3_object_exists(bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    if not key:
        return False
    try:
        s3_client().head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def file_name(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1]


def read_bytes(location: str | Path) -> bytes:
    if is_s3(location):
        bucket, key = split_s3(str(location))
        return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return Path(location).read_bytes()


def write_bytes(location: str | Path, data: bytes) -> None:
    if is_s3(location):
        bucket, key = split_s3(str(location))
        s3_client().put_object(Bucket=bucket, Key=key, Body=data)
        return
    Path(location).parent.mkdir(parents=True, exist_ok=True)
    Path(location).write_bytes(data)


def local_copy(location: str | Path, cache_dir: Path) -> Path:
    """A local path holding the file or folder at `location`, downloading S3 objects into a cache.

    The cache is keyed by the URI, so a model folder is fetched once per machine.
    """
    if not is_s3(location):
        return Path(location)
    uri = str(location).rstrip("/")
    target = cache_dir / sha256_hex(uri.encode())[:16] / file_name(uri)
    done = target.parent / ".complete"
    if done.exists():
        return target
    bucket, key = split_s3(uri)
    client = s3_client()
    objects = list_files(uri)
    if objects == [uri]:  # a single object, not a prefix
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(target))
        objects = []
    for obj in objects:
        relative = obj.removeprefix(uri + "/")
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, split_s3(obj)[1], str(destination))
    done.touch()
    return target


def upload_folder(folder: Path, uri: str) -> list[str]:
    """Copy every file under `folder` to the S3 prefix `uri`; returns the object URIs."""
    bucket, prefix = split_s3(uri.rstrip("/"))
    uploaded = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(folder).as_posix()}".lstrip("/")
        s3_client().upload_file(str(path), bucket, key)
        uploaded.append(f"s3://{bucket}/{key}")
    return uploaded


def sha256_hex(data: bytes) -> str:
    """The hex SHA-256 of `data`: the one content hash of files, keys and versions."""
    return hashlib.sha256(data).hexdigest()


def _is_hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in relative.split("/"))
