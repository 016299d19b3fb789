"""Locks held by a live process: an OS file lock that vanishes when its holder dies, however it dies.

A PID alone cannot say whether a file's writer still runs: another container sharing the folder has its own
PIDs (its editor may have been PID 1, as we may be), and a PID is reused after its process ends. A lock on
the file itself can: the kernel drops it when the holder's last descriptor closes, including on SIGKILL or a
crash, and it is seen by every process on the same kernel (containers included) and, on NFS, by other
machines. The holder's host, boot and PID space are recorded too, for people and for readers where the file
system cannot lock (they fall back on the PID only when it is known to mean the same process for them).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import socket
import stat
import time
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from studio.errors import StudioError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None  # type: ignore[assignment]

MAX_RECORD_BYTES = 4096
# Windows byte-range locks are mandatory: lock one byte far past any real end of file, so a part file's
# writer (another handle) can still write every byte of the video it is encoding.
_WINDOWS_LOCK_OFFSET = 1 << 62
# Errors that mean "this file system cannot lock", as opposed to "someone holds it".
_NO_LOCKING = {errno.ENOLCK, errno.EINVAL, errno.ENOSYS, getattr(errno, "EOPNOTSUPP", -1),
               getattr(errno, "ENOTSUP", -1)}
_OPEN_FLAGS = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
# (device, inode) of the files this process holds: on file systems that emulate flock with per-process
# POSIX locks (NFS), a probe from this process would otherwise succeed and call our own lock free.
_HELD: set[tuple[int, int]] = set()


class LockBusy(StudioError):
    """Another live process holds the lock."""


@dataclass(frozen=True)
class Holder:
    """Who took a lock, as recorded in the lock file."""

    host: str
    boot: str  # the kernel's boot id ('' where unknown): differs between machines and after a reboot
    space: str  # PID space (boot + PID namespace) tag; '' where unknown. Equal spaces share PIDs.
    pid: int
    since: float

    @classmethod
    def current(cls) -> Holder:
        return cls(socket.gethostname(), boot_id(), pid_space(), os.getpid(), time.time())


@cache
def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return ""


@cache
def pid_space() -> str:
    """A short tag naming this process's PID space: equal tags mean a PID names the same process.

    Containers on one kernel share the boot id but not the PID namespace, so both go in. Empty where either
    is unknown (not Linux): then no PID recorded elsewhere is trusted."""
    boot = boot_id()
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except (OSError, AttributeError):
        return ""
    if not boot:
        return ""
    return hashlib.sha256(f"{boot}|{namespace}".encode()).hexdigest()[:8]


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists here (it may be an unrelated one that reused the number)."""
    if pid <= 0 or pid > 2**31:
        return False
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return False  # os.kill(pid, 0) terminates the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return False
    return True


def process_started(pid: int) -> float | None:
    """When the process with this PID started (seconds since the epoch), where the system says (Linux)."""
    try:
        fields = Path(f"/proc/{int(pid)}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # starttime, the 22nd field; fields[0] is the 3rd (after "pid (comm)")
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _try_lock(fd: int) -> bool | None:
    """True: locked. False: another holder has it. None: this file system cannot lock."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in _NO_LOCKING:
                return None
            raise
        return True
    if msvcrt is not None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False  # busy (EACCES/EDEADLOCK); anything else is not proof of a dead holder either
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True
    return None


def _key(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


@dataclass
class HeldLock:
    """A lock this process holds until ``release`` (or the end of a ``with`` block, or its death)."""

    path: Path
    fd: int | None
    locked: bool  # False where the file system cannot lock: readers then go by the record alone
    key: tuple[int, int]

    def release(self, *, remove: bool = False) -> None:
        """Let go; ``remove`` deletes the file too (a lock file, never someone's data)."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        if remove and os.name == "posix":  # removed while still held: nobody can take a dying file over
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        _HELD.discard(self.key)
        os.close(fd)
        if remove and os.name != "posix":  # Windows cannot delete an open file
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def hold(path: str | Path, *, record: bool = False, wait: float = 2.0) -> HeldLock:
    """Take the lock on ``path`` for as long as this process keeps it.

    ``record``: ``path`` is a lock file of its own: created when missing, and the holder (host, boot, PID)
    written into it. Without it, ``path`` must exist and is not changed (a part file being encoded).
    Raises LockBusy when another live process still holds it after ``wait`` seconds (a probe by
    ``is_held`` holds it for microseconds), OSError when the file cannot be opened."""
    path = Path(path)
    deadline = time.monotonic() + wait
    for _attempt in range(5):
        flags = _OPEN_FLAGS | ((os.O_RDWR | os.O_CREAT) if record else os.O_RDONLY)
        fd = os.open(path, flags, 0o600)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", str(path))
            if _key(info) in _HELD:
                raise LockBusy("this process already holds the lock", path=path)
            locked = _try_lock(fd)
            while locked is False and time.monotonic() < deadline:
                time.sleep(0.01)
                locked = _try_lock(fd)
            if locked is False:
                raise LockBusy("another running process holds this file", path=path,
                               hint="close the other Studio or export that uses it")
            try:
                same = _key(os.stat(path, follow_symlinks=False)) == _key(info)
            except FileNotFoundError:
                same = False
            if not same:  # removed or replaced between our open and our lock: lock what the name is now
                os.close(fd)
                continue
            if record:
                data = json.dumps(asdict(Holder.current())).encode()
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, data)
            _HELD.add(_key(info))
            return HeldLock(path, fd, bool(locked), _key(info))
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
    raise LockBusy("the file keeps being replaced while we lock it", path=path)


def try_hold(path: str | Path) -> HeldLock | None:
    """The lock on an existing file if nobody holds it now, else None (no waiting, nothing written)."""
    try:
        return hold(path, wait=0)
    except LockBusy:
        return None


def is_held(path: str | Path) -> bool | None:
    """Whether a live process holds the lock on ``path``: True, False (also when there is no such file),
    or None where this cannot be told (the file system cannot lock, or the name is not a regular file)."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if _key(info) in _HELD:
            return True
        try:
            locked = _try_lock(fd)
        except OSError:
            return None
        return None if locked is None else not locked
    finally:
        os.close(fd)  # closing drops our probe lock, if we took it


def read_holder(path: str | Path) -> Holder | None:
    """The holder recorded in a lock file, or None when there is none or it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = json.loads(os.read(fd, MAX_RECORD_BYTES + 1)[:MAX_RECORD_BYTES].decode("utf-8"))
        holder = Holder(str(data["host"]), str(data["boot"]), str(data["space"]), int(data["pid"]),
                        float(data["since"]))
    except (OSError, ValueError, KeyError, TypeError, OverflowError):
        return None
    finally:
        os.close(fd)
    return holder


def recorded_holder_alive(holder: Holder | None) -> bool:
    """For a lock file where locking does not work: whether its recorded holder runs, where the PID means
    the same process for us (same PID space) and was not reused (it started before it took the lock)."""
    if holder is None or not holder.space or holder.space != pid_space():
        return False
    if holder.pid == os.getpid():
        return False  # we would be holding it
    if not pid_alive(holder.pid):
        return False
    started = process_started(holder.pid)
    return started is None or started <= holder.since + 1.0
