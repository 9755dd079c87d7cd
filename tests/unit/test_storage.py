"""Every storage backend honours the same contract; the S3 one through moto's real HTTP API."""

from __future__ import annotations

import re
import threading

import pytest

from worker.storage import (
    InvalidKey,
    NotFound,
    ObjectTooLarge,
    PreconditionFailed,
    Unreachable,
    open_store,
)
from worker.storage.local import LocalStore
from worker.storage.memory import MemoryStore
from worker.storage.s3 import S3Store


@pytest.fixture(params=["memory", "local", "s3"])
def store(request, tmp_path):
    if request.param == "memory":
        return MemoryStore()
    if request.param == "local":
        return LocalStore(tmp_path / "bucket")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Store(bucket)


def test_put_get_head_list_delete(store):
    info = store.put("incoming/a b/one.txt", b"hello")
    assert info.size == 5
    got = store.get("incoming/a b/one.txt")
    assert got.data == b"hello"
    assert got.info.etag == info.etag == store.head("incoming/a b/one.txt").etag
    store.put("incoming/two.txt", b"x")
    store.put("processed/two.txt.json", b"{}")
    assert [i.key for i in store.list("incoming/")] == ["incoming/a b/one.txt", "incoming/two.txt"]
    store.delete("incoming/two.txt")
    store.delete("incoming/two.txt")  # deleting a missing key is not an error
    assert not store.exists("incoming/two.txt")


def test_etag_changes_with_content_and_not_without(store):
    first = store.put("k.txt", b"one").etag
    assert store.put("k.txt", b"one").etag == first
    assert store.put("k.txt", b"two").etag != first


def test_missing_key_is_not_found(store):
    with pytest.raises(NotFound):
        store.get("nope.txt")
    with pytest.raises(NotFound):
        store.head("nope.txt")


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/abs", "nul\x00byte", "", "a/./b"])
def test_bad_keys_are_refused(store, key):
    with pytest.raises(InvalidKey):
        store.put(key, b"x")
    with pytest.raises(InvalidKey):
        store.get(key)


def test_max_bytes_refuses_before_reading(store):
    store.put("big.txt", b"x" * 100)
    with pytest.raises(ObjectTooLarge):
        store.get("big.txt", max_bytes=99)
    assert store.get("big.txt", max_bytes=100).data == b"x" * 100


def test_conditional_writes(store):
    first = store.put("index/manifest.json", b"v1", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        store.put("index/manifest.json", b"v1-again", if_none_match=True)
    second = store.put("index/manifest.json", b"v2", if_match=first.etag)
    with pytest.raises(PreconditionFailed):
        store.put("index/manifest.json", b"v3", if_match=first.etag)
    assert store.get("index/manifest.json").data == b"v2"
    assert second.etag != first.etag


def test_concurrent_compare_and_swap_loses_no_update(store):
    """Eight writers each add one line with If-Match and retry on conflict: all 8 lines land."""
    store.put("counter", b"", if_none_match=True)

    def add(line: bytes):
        while True:
            current = store.get("counter")
            try:
                store.put("counter", current.data + line + b"\n", if_match=current.info.etag)
                return
            except PreconditionFailed:
                continue

    threads = [threading.Thread(target=add, args=(f"w{i}".encode(),)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(store.get("counter").data.split()) == sorted(f"w{i}".encode() for i in range(8))


def test_create_and_delete_race_gives_only_precondition_outcomes(store):
    """Claim/release as the indexer does it: threads create a key with If-None-Match and
    delete it again. A create may win or lose, but never fails with anything else (a delete
    landing between the existence check and the write once surfaced as NotFound)."""
    rounds = 40 if isinstance(store, S3Store) else 300
    errors: list[BaseException] = []
    wins = []

    def claim_and_release():
        for _ in range(rounds):
            try:
                info = store.put("index/claims/00.json", b"mine", if_none_match=True)
            except PreconditionFailed:
                continue
            except BaseException as exc:  # noqa: BLE001 - the test reports whatever escaped
                errors.append(exc)
                return
            wins.append(info.etag)
            store.delete("index/claims/00.json")

    threads = [threading.Thread(target=claim_and_release) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert wins  # someone won every time the key was free


def test_local_conditional_put_treats_a_vanishing_file_as_absent(tmp_path, monkeypatch):
    """The file is deleted between the stat and the etag read of a conditional put."""
    store = LocalStore(tmp_path / "bucket")
    store.put("claim", b"old")
    real_etag = LocalStore._etag

    def etag_after_delete(self, path, st):
        path.unlink(missing_ok=True)
        return real_etag(self, path, st)

    monkeypatch.setattr(LocalStore, "_etag", etag_after_delete)
    info = store.put("claim", b"new", if_none_match=True)
    monkeypatch.undo()
    assert store.get("claim").data == b"new"
    assert info.etag == store.head("claim").etag


def test_local_store_stays_inside_its_root(tmp_path):
    root = tmp_path / "root"
    store = LocalStore(root)
    (tmp_path / "secret.txt").write_text("outside")
    (root).mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidKey):
        store.get("link/secret.txt")
    with pytest.raises(InvalidKey):
        store.put(".copydesk/locks/x", b"reserved")
    store.put("a.txt", b"a")
    assert [i.key for i in store.list("")] == ["a.txt"]  # internal files are never listed


def test_open_store_urls(tmp_path):
    assert isinstance(open_store(f"file://{tmp_path}"), LocalStore)
    assert isinstance(open_store("memory://x"), MemoryStore)
    assert open_store("s3://bucket-name").bucket == "bucket-name"
    with pytest.raises(ValueError):
        open_store("ftp://nope")


def test_s3_unreachable_endpoint_is_transient(monkeypatch):
    from support import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    store = S3Store("nobucket", connect_timeout=1, read_timeout=1)
    with pytest.raises(Unreachable) as info:
        store.get("incoming/x.txt")
    assert info.value.transient


def test_s3_missing_bucket_is_reported_as_missing_not_denied(moto_server, monkeypatch):
    from worker.storage import StoreMissing

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    with pytest.raises(StoreMissing, match="no such bucket"):
        S3Store("bucket-that-does-not-exist").put("k", b"x")
    store = S3Store("no-such-bucket")
    with pytest.raises(StoreMissing, match="no such bucket: no-such-bucket"):
        store.ensure_exists()
    store.ensure_exists(create=True)
    store.put("k", b"x")
    store.ensure_exists()


def test_local_store_missing_folder_is_an_error_unless_created(tmp_path):
    from worker.storage import StoreMissing

    store = LocalStore(tmp_path / "nope")
    with pytest.raises(StoreMissing, match=f"no such folder: {tmp_path / 'nope'}"):
        store.ensure_exists()
    store.ensure_exists(create=True)
    assert (tmp_path / "nope").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreMissing, match="is not a folder"):
        LocalStore(tmp_path / "file").ensure_exists(create=True)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("file:relative/dir", "file://{cwd}/relative/dir"),
        ("file:./rel", "file://{cwd}/rel"),
        ("file://./data", "file://{cwd}/data"),
        ("file:///abs/dir/", "file:///abs/dir"),
        ("file://localhost/abs/dir", "file:///abs/dir"),
        ("s3://news", "s3://news"),
        ("s3://news/", "s3://news"),
        ("S3://news", "s3://news"),
        ("memory://x", "memory://x"),
    ],
)
def test_store_urls_are_normalised(tmp_path, url, expected):
    from worker.storage.urls import normalise_store_url

    assert normalise_store_url(url, cwd=tmp_path) == expected.format(cwd=tmp_path)


@pytest.mark.parametrize(
    "url, words",
    [
        ("bucket", "has no scheme"),
        ("/data", "has no scheme"),
        ("", "no store given"),
        ("ftp://nope", "unsupported scheme 'ftp'"),
        ("s3://", "names no bucket"),
        ("s3:news", "write s3://BUCKET"),
        ("s3://Bad_Bucket", "not a valid S3 bucket name"),
        ("s3://news/articles", "root folder inside the bucket ('articles') is not supported"),
        ("file:", "names no folder"),
    ],
)
def test_bad_store_urls_say_why(url, words):
    from worker.storage.urls import parse_store_url

    with pytest.raises(ValueError, match=re.escape(words)):
        parse_store_url(url)


def test_local_store_outputs_follow_the_umask_not_0600(tmp_path):
    import os

    from worker.storage.local import _read_umask

    umask = _read_umask()
    store = LocalStore(tmp_path)
    store.put("processed/a.json", b"{}")
    assert (tmp_path / "processed" / "a.json").stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.umask(umask) == umask  # reading it changed nothing


def test_stale_temporary_files_are_removed_and_fresh_ones_kept(tmp_path):
    import os
    import subprocess
    import sys
    import time

    store = LocalStore(tmp_path)
    store.put("processed/a.json", b"{}")
    old = tmp_path / "processed" / ".tmp-abandoned"
    fresh = tmp_path / "processed" / ".tmp-being-written"
    mine = tmp_path / "processed" / f".tmp-{os.getpid()}-abc"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    orphan = tmp_path / "processed" / f".tmp-{gone.pid}-abc"  # its writer has exited
    for path in (old, fresh, mine, orphan):
        path.write_bytes(b"half")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert store.remove_stale_temporary_files() == 2
    assert not old.exists() and not orphan.exists()
    assert fresh.exists() and mine.exists() and (tmp_path / "processed" / "a.json").exists()


def test_local_store_checks_links_at_any_depth(tmp_path):
    root = tmp_path / "root"
    store = LocalStore(root)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("outside")
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "deep").symlink_to(tmp_path / "outside")
    (root / "a" / "file-link").symlink_to(tmp_path / "outside" / "secret.txt")
    (root / "a" / "inside").symlink_to(root / "a" / "b")
    for key in ("a/b/deep/secret.txt", "a/file-link"):
        with pytest.raises(InvalidKey):
            store.get(key)
        with pytest.raises(InvalidKey):
            store.put(key, b"x")
    store.put("a/b/c.txt", b"c")
    assert store.get("a/inside/c.txt").data == b"c"  # a link that stays inside is followed
    assert (tmp_path / "outside" / "secret.txt").read_text() == "outside"


# -- group commit (the embedded runner's records) ------------------------------------------
def test_group_commit_makes_records_visible_only_at_commit_and_in_order(tmp_path):
    store = LocalStore(tmp_path)
    store.begin_batch()
    try:
        store.put("processed/a.json", b'{"v":1}')
        store.put("processed/b.json", b'{"v":1}')
        store.put("processed/a.json", b'{"v":2}')  # the later write of a key wins
        store.put("logs/a.jsonl", b"line\n", durable=False)  # not deferred: derived output
        assert store.get("logs/a.jsonl").data == b"line\n"
        with pytest.raises(NotFound):
            store.get("processed/a.json")
        assert [i.key for i in store.list("processed/")] == []  # temporary files are not listed
        assert store.commit_batch() == 3
        assert store.get("processed/a.json").data == b'{"v":2}'
        assert store.get("processed/b.json").data == b'{"v":1}'
        assert not [p for p in (tmp_path / "processed").iterdir() if p.name.startswith(".tmp-")]
        assert store.commit_batch() == 0
    finally:
        store.end_batch()
    store.put("processed/c.json", b"{}")  # no batch: written at once
    assert store.get("processed/c.json").data == b"{}"


def test_group_commit_is_per_thread(tmp_path):
    store = LocalStore(tmp_path)
    store.begin_batch()
    other = threading.Thread(target=lambda: store.put("processed/other.json", b"{}"))
    other.start()
    other.join()
    assert store.get("processed/other.json").data == b"{}"  # the other thread has no batch
    store.end_batch()


def test_group_commit_failure_leaves_no_record_half_written(tmp_path, monkeypatch):
    """The rename of the second record fails (after the flush): the first is in place and
    whole, the second is absent and its temporary file removed, and the error is raised."""
    import os

    from worker.storage import StoreError

    store = LocalStore(tmp_path)
    store.begin_batch()
    store.put("processed/a.json", b"A" * 10000)
    store.put("processed/b.json", b"B" * 10000)
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(StoreError):
        store.commit_batch()
    monkeypatch.undo()
    assert store.get("processed/a.json").data == b"A" * 10000
    with pytest.raises(NotFound):
        store.get("processed/b.json")
    assert sorted(p.name for p in (tmp_path / "processed").iterdir()) == ["a.json"]
    store.end_batch()


def test_a_crash_before_the_commit_leaves_no_record_and_only_temporary_files(tmp_path):
    """A process killed after writing a batch and before its flush and renames: no record
    exists (none is torn), and the next start removes the temporary files."""
    import subprocess
    import sys

    script = (
        "import os, sys\n"
        "from worker.storage.local import LocalStore\n"
        "store = LocalStore(sys.argv[1])\n"
        "store.put('processed/old.json', b'{\"old\": true}')\n"
        "store.begin_batch()\n"
        "store.put('processed/old.json', b'{\"new\": true}')\n"
        "store.put('processed/new.json', b'{\"new\": true}')\n"
        "os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, check=False)
    assert done.returncode == 9, done.stderr
    store = LocalStore(tmp_path)
    assert store.get("processed/old.json").data == b'{"old": true}'  # the committed version, whole
    with pytest.raises(NotFound):
        store.get("processed/new.json")
    assert len([p for p in (tmp_path / "processed").iterdir() if p.name.startswith(".tmp-")]) == 2
    assert store.remove_stale_temporary_files() == 2  # their writer is gone
    assert [i.key for i in store.list("processed/")] == ["processed/old.json"]


def test_list_keys_gives_the_keys_list_gives(store):
    for key in ("a/1.json", "a/2.json", "a/b/3.json", "b/4.json"):
        store.put(key, b"{}")
    for prefix, after in (("", None), ("a/", None), ("a/", "a/1.json"), ("a/b", None), ("c/", None)):
        assert list(store.list_keys(prefix, start_after=after)) == [i.key for i in store.list(prefix, start_after=after)]
