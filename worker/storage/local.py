"""A local folder as the store: the embedded default (`file:///path`).

Keys map to files below the root and can never resolve outside it. Writes go to a temporary
file and are renamed into place, so readers never see half an object. Conditional writes take
an exclusive `flock` on a per-key lock file, which gives the same compare-and-swap guarantee as
S3's If-Match / If-None-Match to every process on this machine. Etags are the MD5 of the
content, as S3 gives for single-part uploads, cached for the whole process by (device, inode,
mtime, size): a listing then reads a file only the first time it is seen, whichever LocalStore
instance lists it (Celery tasks and indexers open a new store per run).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import itertools
import os
import stat
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from collections.abc import Iterator, Sequence

from .base import (
    AccessDenied,
    StoreMissing,
    InvalidKey,
    NotFound,
    ObjectInfo,
    PendingWrites,
    ObjectTooLarge,
    PreconditionFailed,
    Store,
    StoredObject,
    StoreError,
    Unreachable,
    validate_key,
)

#: Reserved folder below the root for lock and temporary files; never listed, never a key.
INTERNAL_DIR = ".copydesk"
LOCK_STRIPE_HEX = 2  # 256 lock files guard conditional writes and deletes
#: (device, inode, mtime_ns, size) → MD5 hex, shared by every LocalStore of the process.
_ETAG_CACHE: dict[tuple[int, int, int, int], str] = {}
_ETAG_CACHE_LOCK = threading.Lock()
#: Bound on the shared cache; cleared whole when reached (entries are cheap to recompute).
ETAG_CACHE_MAX = 1_000_000
#: Temporary files of interrupted writes are removed at start when the process that made them
#: (its pid is in the name) is gone, or when they are older than this (a write takes milliseconds).
STALE_TEMPORARY_SECONDS = 3600
TEMPORARY_PREFIX = ".tmp-"
#: Temporary names: `.tmp-<pid>-<n>`, n from one counter per process (os.open's O_EXCL still
#: refuses a name an earlier process of the same pid left behind).
_TEMPORARY_NAMES = itertools.count()
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours
    return True

_umask: int | None = None
_umask_lock = threading.Lock()


def _file_mode() -> int:
    """0666 less the process umask, as open() would create a file (mkstemp makes 0600)."""
    global _umask
    if _umask is None:
        with _umask_lock:
            if _umask is None:
                _umask = _read_umask()
    return 0o666 & ~_umask


def _read_umask() -> int:
    try:  # Linux: readable without changing it
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)  # elsewhere the only way to read it: set and put straight back
    os.umask(current)
    return current


def _cache_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _remember_etag(cache_key: tuple[int, int, int, int], etag: str) -> None:
    with _ETAG_CACHE_LOCK:
        if len(_ETAG_CACHE) >= ETAG_CACHE_MAX:
            _ETAG_CACHE.clear()
        _ETAG_CACHE[cache_key] = etag


class LocalStore(Store):
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.bucket = self.root.name or "root"
        self.url = self.root.as_uri()
        self._root_str = str(self.root)
        self._root_prefix = self._root_str.rstrip(os.sep) + os.sep
        #: Internal folders already made by this instance (no mkdir per conditional write).
        self._made: set[str] = set()
        #: Per thread: the deferred durable writes of an open group commit (begin_batch).
        self._batches = threading.local()

    def ensure_exists(self, *, create: bool = False) -> None:
        if self.root.is_dir():
            return
        if self.root.exists():
            raise StoreMissing(f"{self.root} is not a folder")
        if not create:
            raise StoreMissing(f"no such folder: {self.root} (create it, or pass --create)")
        try:
            self.root.mkdir(parents=True)
        except OSError as exc:
            raise StoreMissing(f"cannot create {self.root}: {exc.strerror}") from None

    def remove_stale_temporary_files(self, older_than: float = STALE_TEMPORARY_SECONDS) -> int:
        """Delete `.tmp-*` files that interrupted writes left behind; returns how many."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for dirpath, dirnames, filenames in os.walk(self.root):
            if dirpath == str(self.root):
                dirnames[:] = [d for d in dirnames if d != INTERNAL_DIR]
            for name in filenames:
                if not name.startswith(TEMPORARY_PREFIX):
                    continue
                path = os.path.join(dirpath, name)
                writer = name[len(TEMPORARY_PREFIX):].split("-", 1)[0]
                orphaned = writer.isdigit() and int(writer) != os.getpid() and not _alive(int(writer))
                with suppress(OSError):
                    if orphaned or os.stat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
        return removed

    # -- paths -----------------------------------------------------------------------------
    def _path(self, key: str) -> str:
        validate_key(key)
        if key.split("/", 1)[0] == INTERNAL_DIR:
            raise InvalidKey(f"{INTERNAL_DIR}/ is reserved: {key!r}")
        # Symlinks resolved (a link inside the root must not lead outside it). The root is
        # resolved once; below it each existing component is lstat'ed, and only when one is a
        # link is the whole path resolved and checked. os.path.realpath walks every component
        # from / in Python, and pathlib's resolve() more so (~0.1 ms per request, issue 15).
        path = self._root_prefix + key
        if "//" in key or key.endswith("/"):
            return self._resolved(key, path)  # let realpath normalise what the OS would
        end = 0
        while end != -1:
            end = key.find("/", end + 1)
            try:
                mode = os.lstat(path if end == -1 else path[: len(self._root_prefix) + end]).st_mode
            except (FileNotFoundError, NotADirectoryError):
                break  # nothing below exists: there is no link to follow
            except OSError:
                return self._resolved(key, path)
            if stat.S_ISLNK(mode):
                return self._resolved(key, path)
        return path

    def _resolved(self, key: str, path: str) -> str:
        real = os.path.realpath(path)
        if real != self._root_str and not real.startswith(self._root_prefix):
            raise InvalidKey(f"key resolves outside the store root: {key!r}")
        return real

    def _internal(self, *parts: str) -> Path:
        path = self.root.joinpath(INTERNAL_DIR, *parts)
        parent = str(path.parent)
        if parent not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(parent)
        return path

    # -- metadata --------------------------------------------------------------------------
    def _etag(self, path: str | Path, st: os.stat_result) -> str:
        cache_key = _cache_key(st)
        etag = _ETAG_CACHE.get(cache_key)  # a dict read is atomic under the GIL
        if etag is None:
            digest = hashlib.md5()
            try:
                with open(path, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(chunk)
            except FileNotFoundError:
                raise NotFound(str(path)) from None  # deleted since it was listed or stat'ed
            etag = digest.hexdigest()
            _remember_etag(cache_key, etag)
        return etag

    def _stat(self, key: str, path: str | Path) -> os.stat_result:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise NotFound(key) from None
        except OSError as exc:
            raise _translate(exc, key) from exc
        if not stat.S_ISREG(st.st_mode):
            raise NotFound(key)
        return st

    def _info(self, key: str, path: str | Path) -> ObjectInfo:
        st = self._stat(key, path)
        return ObjectInfo(key, self._etag(path, st), st.st_size, None, st.st_mtime)

    # -- Store -----------------------------------------------------------------------------
    def head(self, key):
        return self._info(key, self._path(key))

    def exists(self, key: str) -> bool:
        # A stat, no etag (which would read and hash the file the first time it is seen).
        path = self._path(key)
        try:
            self._stat(key, path)
        except NotFound:
            return False
        return True

    def get(self, key, *, version_id=None, max_bytes=None):
        path = self._path(key)
        st = self._stat(key, path)
        if max_bytes is not None and st.st_size > max_bytes:
            raise ObjectTooLarge(key, st.st_size, max_bytes)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
                after = os.fstat(fh.fileno())
        except FileNotFoundError:
            raise NotFound(key) from None
        except OSError as exc:
            raise _translate(exc, key) from exc
        # One read serves both the body and its etag; the etag is cached only when the file
        # did not change while it was read (else report what was read, uncached). The cached
        # etag is not used here: the body read is what the record describes.
        etag = hashlib.md5(data).hexdigest()
        if _cache_key(after) == _cache_key(st) and len(data) == st.st_size:
            _remember_etag(_cache_key(st), etag)
        return StoredObject(ObjectInfo(key, etag, len(data), None, st.st_mtime), data)

    def put(self, key, data, *, content_type="application/octet-stream", if_match=None, if_none_match=False, durable=True):
        path = self._path(key)
        data = bytes(data)
        try:
            if if_match is None and not if_none_match:
                batch = getattr(self._batches, "writes", None) if durable else None
                if batch is not None:
                    # Group commit: made durable and renamed into place at commit_batch().
                    batch.append((self._write(path, data, durable=False, rename=False), path))
                else:
                    self._write(path, data, durable)
            else:
                with self._key_lock(key):
                    current = self._current_etag(key, path)
                    if if_none_match and current is not None:
                        raise PreconditionFailed(f"{key} exists")
                    if if_match is not None and current != if_match:
                        raise PreconditionFailed(f"{key} changed (etag {current} != {if_match})")
                    self._write(path, data, durable)
        except OSError as exc:
            raise _translate(exc, key) from exc
        # Describe what this call wrote, as S3 does, without reading the path again: another
        # writer may already have replaced or deleted it.
        etag = hashlib.md5(data).hexdigest()
        return ObjectInfo(key, etag, len(data), None, time.time())

    def _current_etag(self, key: str, path: str) -> str | None:
        """The etag of what is stored now, None when nothing is (or it vanished meanwhile)."""
        try:
            return self._etag(Path(path), self._stat(key, path))
        except NotFound:
            return None

    def list(self, prefix="", start_after=None) -> Iterator[ObjectInfo]:
        keys = self._keys(prefix, start_after)

        def infos():
            for key in keys:
                try:
                    yield self._info(key, self.root / key)
                except NotFound:
                    continue  # removed while listing

        return infos()

    def list_keys(self, prefix="", start_after=None) -> Iterator[str]:
        # No stat and no etag per file (an etag is a read and an MD5 of the whole file the
        # first time it is seen): for callers that need the names only (issue 15).
        return iter(self._keys(prefix, start_after))

    def _keys(self, prefix: str, start_after: str | None) -> Sequence[str]:
        # Walk only the deepest folder the prefix names, then filter by the full prefix.
        base_rel = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = self.root / base_rel if base_rel else self.root
        if base_rel:
            validate_key(base_rel)
        if not base.is_dir():
            return []
        keys = []
        for dirpath, dirnames, filenames in os.walk(base):
            rel_dir = os.path.relpath(dirpath, self.root)
            if rel_dir == ".":
                rel_dir = ""
                dirnames[:] = [d for d in dirnames if d != INTERNAL_DIR]
            for name in filenames:
                key = f"{rel_dir}/{name}" if rel_dir else name
                if key.startswith(prefix) and not name.startswith(TEMPORARY_PREFIX) and (start_after is None or key > start_after):
                    keys.append(key)
        keys.sort()
        return keys

    def delete(self, key):
        path = self._path(key)
        try:
            # Under the key's lock so a conditional put's check-then-write is not split by it.
            with self._key_lock(key):
                os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _translate(exc, key) from exc

    # -- helpers ---------------------------------------------------------------------------
    def _write(self, path: str, data: bytes, durable: bool = True, rename: bool = True) -> str:
        """Write to a temporary file, then rename it into place (readers never see half an
        object); fsync first only for durable objects (records, claims, manifests). With
        `rename=False` the temporary file is left for the caller (a group commit) and returned.

        The temporary file is made with os.open (O_EXCL, mode 0666 less the umask, as open()
        makes files), named by this process's pid, so an interrupted write's file is removed at
        the next start (remove_stale_temporary_files)."""
        parent = os.path.dirname(path)
        prefix = f"{parent}/{TEMPORARY_PREFIX}{os.getpid()}-"
        while True:
            tmp = f"{prefix}{next(_TEMPORARY_NAMES)}"
            try:
                fd = os.open(tmp, _CREATE_FLAGS, 0o666)
                break
            except FileExistsError:
                continue  # left by an earlier process of the same pid: take the next name
            except FileNotFoundError:
                os.makedirs(parent, exist_ok=True)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            if rename:
                os.replace(tmp, path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return tmp

    # -- group commit ----------------------------------------------------------------------
    def begin_batch(self) -> None:
        """Defer this thread's durable unconditional writes (records) until commit_batch().

        They are written to temporary files at once; commit_batch() makes them all durable with
        one flush of the file system (syncfs on Linux, else one fsync each) and only then renames
        each into place. A record is therefore never torn and never visible before it is
        durable; a crash before the commit leaves only temporary files (removed at the next
        start by remove_stale_temporary_files) and the inputs without records, which the next
        run processes again. Reads do not see deferred writes until they are committed."""
        if getattr(self._batches, "writes", None) is None:
            self._batches.writes = []

    def take_batch(self) -> PendingWrites:
        """This thread's deferred writes so far (temporary file, final path), handed over: the
        batch stays open for the thread's next writes, and whoever holds the list commits it
        with commit_writes() (`copydesk run`'s committer thread, while the workers go on)."""
        writes: PendingWrites | None = getattr(self._batches, "writes", None)
        if not writes:
            return []
        self._batches.writes = []
        return writes

    def commit_writes(self, writes: PendingWrites) -> int:
        """Make writes taken by take_batch() (from any thread; commit_batch(): this thread's)
        durable, then rename them into place, in the order they were written; returns how many.
        On failure none is left half-done: the ones not renamed are removed, and the error is
        raised (their inputs have no record)."""
        if not writes:
            return 0
        done = 0
        try:
            _flush_files([tmp for tmp, _ in writes])
            for tmp, path in writes:
                os.replace(tmp, path)
                done += 1
        except OSError as exc:
            for tmp, _ in writes[done:]:
                with suppress(OSError):
                    os.unlink(tmp)
            raise _translate(exc, writes[done][1]) from exc
        return done

    def defers_durable_writes(self) -> bool:
        return getattr(self._batches, "writes", None) is not None

    def end_batch(self) -> None:
        """Stop deferring this thread's writes (commit_batch() first: deferred ones are dropped)."""
        for tmp, _ in getattr(self._batches, "writes", None) or ():
            with suppress(OSError):
                os.unlink(tmp)
        self._batches.writes = None

    @contextmanager
    def _key_lock(self, key: str):
        # Striped: a bounded set of lock files (deleted keys would otherwise leave one each).
        stripe = hashlib.sha1(key.encode()).hexdigest()[:LOCK_STRIPE_HEX]
        fd, guard = _lock_file(self, stripe)
        with guard:  # flock excludes other processes; this lock, the other threads of this one
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


#: Open lock files by path: (fd, a lock for this process's threads), kept open for the process
#: (issue 15: opening and closing one per conditional write or delete cost ~0.1 ms). An flock
#: belongs to the open file, which a forked child shares with its parent: a child opens its own.
_LOCK_FILES: dict[str, tuple[int, threading.Lock]] = {}
_LOCK_FILES_PID = os.getpid()
_LOCK_FILES_LOCK = threading.Lock()


def _lock_file(store: LocalStore, stripe: str) -> tuple[int, threading.Lock]:
    global _LOCK_FILES_PID
    path = f"{store._root_str}/{INTERNAL_DIR}/locks/{stripe}"
    entry = _LOCK_FILES.get(path)
    if entry is not None and os.getpid() == _LOCK_FILES_PID:
        return entry
    with _LOCK_FILES_LOCK:
        if os.getpid() != _LOCK_FILES_PID:  # forked: the parent's open files are not ours
            for fd, _ in _LOCK_FILES.values():
                with suppress(OSError):
                    os.close(fd)
            _LOCK_FILES.clear()
            _LOCK_FILES_PID = os.getpid()
        entry = _LOCK_FILES.get(path)
        if entry is None:
            store._internal("locks", stripe)  # makes the folder
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
            entry = _LOCK_FILES[path] = (fd, threading.Lock())
        return entry


def _syncfs():
    """libc's syncfs (Linux), or None."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        return None
    fn.argtypes = [ctypes.c_int]
    return fn


_SYNCFS = _syncfs()


def _flush_files(paths: list[str]) -> None:
    """Make the written files `paths` durable: one syncfs per file system they are on (Linux:
    one journal commit for the whole batch instead of one per file), else fsync each."""
    if _SYNCFS is None:
        for path in paths:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return
    devices: dict[int, str] = {}
    for path in paths:
        devices.setdefault(os.stat(path).st_dev, path)
    for path in devices.values():
        fd = os.open(path, os.O_RDONLY)
        try:
            if _SYNCFS(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err), path)
        finally:
            os.close(fd)


def _translate(exc: OSError, key: str) -> StoreError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return AccessDenied(f"{key}: {exc.strerror}")
    if exc.errno == errno.ENOENT:
        return NotFound(key)
    if exc.errno in (errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG):
        return InvalidKey(f"{key}: {exc.strerror}")
    return Unreachable(f"{key}: {exc.strerror}")
