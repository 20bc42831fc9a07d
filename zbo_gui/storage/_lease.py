"""The writer lease: which process may write a campaign file, recorded in the file itself.

HDF5's own file lock is often switched off on cluster file systems
(``HDF5_USE_FILE_LOCKING=FALSE`` on NFS/Lustre), so a campaign file carries its writer: the
dataset ``/writer``, one record (host, boot, pid namespace, pid and its start time, program,
start, heartbeat, a random token), stored *contiguously* at a fixed place in the file. The
lease is read and written with plain ``pread``/``pwrite``, never through HDF5, so no HDF5 cache
holds a stale copy and a heartbeat is one small write that a kill cannot tear. A writer takes
the lease *before* HDF5 opens the file for writing, and renews it every
:data:`HEARTBEAT_SECONDS` from a thread.

When is a lease held (:meth:`Lease.live`)?
- by a process of this machine (same host, boot and pid namespace): while that process lives
  (its pid exists with the recorded start time), however old its heartbeat, so that a writer
  suspended with Ctrl-Z keeps its file, and a killed one frees it at once;
- by a process elsewhere: while its heartbeat is younger than :data:`STALE_SECONDS` (a crashed
  remote writer blocks for a minute at most).
A writer checks its token before every write; one whose lease was taken over (it was judged
stale) writes nothing more, and closes its file without HDF5 writing its header again (see
``CampaignStore.close``).
"""

from __future__ import annotations

import math
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import h5py
import numpy as np

from zbo_gui.core.errors import CampaignFileError
from zbo_gui.storage._files import (
    H5_ERRORS,
    host_name,
    pid_alive,
    pid_namespace,
    read_without_lock,
)

#: Name of the lease dataset at the root of a campaign file.
NAME = "writer"
#: Seconds between two heartbeats of a writer.
HEARTBEAT_SECONDS = 10.0
#: A lease of another machine whose heartbeat is older than this is stale.
STALE_SECONDS = 60.0
#: A heartbeat further in the future than this is damaged, not a clock difference.
_FUTURE_SECONDS = 86400.0

# token and boot id are raw bytes (uint8 arrays: numpy's "S" strings drop trailing zeros)
RECORD = np.dtype([
    ("token", "u1", (16,)), ("pid", "<i8"), ("started", "<f8"), ("heartbeat", "<f8"),
    ("host", "S64"), ("program", "S32"), ("boot", "u1", (16,)), ("pidns", "<i8"),
    ("pid_start", "<i8"),
])
_HEARTBEAT_OFFSET = RECORD.fields["heartbeat"][1]
#: The leases this process holds: file identity (device, inode) → token.
_HELD: dict[tuple[int, int], bytes] = {}


def create_lease(file: h5py.File) -> None:
    """Add an empty (free) lease record to a new or migrated campaign file."""
    file.create_dataset(NAME, data=np.zeros(1, RECORD))  # contiguous: a fixed file offset


@cache
def _boot_id() -> bytes:
    try:
        text = Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
        return bytes.fromhex(text)[:16].ljust(16, b"\0")
    except (OSError, ValueError):
        return bytes(16)


def _start_ticks(pid: int) -> int:
    """When process ``pid`` started (clock ticks after boot; 0 where unknown)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


@dataclass(frozen=True)
class Lease:
    """One lease record as read from a file.

    Attributes:
        token: the holder's random token (empty when free).
        pid, host, program: who holds it.
        started: when the holder opened the file (Unix time).
        heartbeat: its latest heartbeat (Unix time).
        boot, pidns, pid_start: the holder's boot id, pid namespace and process start time,
            which tell whether it is a process of this machine and whether it still lives.
    """

    token: bytes
    pid: int
    host: str
    program: str
    started: float
    heartbeat: float
    boot: bytes = bytes(16)
    pidns: int = 0
    pid_start: int = 0

    @classmethod
    def from_record(cls, record: np.ndarray) -> Lease:
        """Parse a ``(1,)`` :data:`RECORD` array."""
        r = record[0]
        return cls(r["token"].tobytes(), int(r["pid"]), r["host"].decode("utf-8", "replace"),
                   r["program"].decode("utf-8", "replace"), float(r["started"]),
                   float(r["heartbeat"]), r["boot"].tobytes(), int(r["pidns"]),
                   int(r["pid_start"]))

    @property
    def taken(self) -> bool:
        """Whether a writer recorded itself (it may have died since)."""
        return self.pid != 0

    def age(self, now: float | None = None) -> float:
        """Seconds since the last heartbeat."""
        return (time.time() if now is None else now) - self.heartbeat

    def local(self) -> bool:
        """Whether the holder is (or was) a process of this machine and pid namespace."""
        return (self.host == host_name() and self.boot == _boot_id()
                and self.pidns == pid_namespace() != 0)

    def live(self, now: float | None = None) -> bool:
        """Whether the lease blocks another writer (see the module docstring)."""
        if not self.taken:
            return False
        age = self.age(now)
        if not math.isfinite(age) or age < -_FUTURE_SECONDS:  # a damaged record
            return False
        if self.local():
            return pid_alive(self.pid) and (
                self.pid_start == 0 or _start_ticks(self.pid) in (0, self.pid_start))
        return age <= STALE_SECONDS

    def held_here(self, path: Path) -> bool:
        """Whether this process holds this lease (on the file ``path``)."""
        try:
            return self.taken and _HELD.get(_identity(path)) == self.token
        except OSError:
            return False

    def describe(self, now: float | None = None) -> str:
        """``zbo (pid 123 on host, since 2026-12-01 03:21 UTC, last heartbeat 4 s ago)``."""
        if not self.taken:
            return "nobody (the lease is free)"
        since = datetime.fromtimestamp(self.started, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (f"{self.program or 'a writer'} (pid {self.pid} on {self.host}, since {since},"
                f" last heartbeat {max(0.0, self.age(now)):.0f} s ago)")


def file_offset(path: Path) -> int | None:
    """The file offset of the lease record in ``path`` (None for a file without one).

    Raises:
        CampaignFileError: the file or its lease record is damaged.
    """
    try:
        with read_without_lock(path) as file:
            return offset_in(file, path)
    except H5_ERRORS as exc:
        raise CampaignFileError(f"{path}: cannot read the writer lease ({exc})") from None


def offset_in(file: h5py.File, where: Path | str) -> int | None:
    """The file offset of the lease record of an open file (None for a file without one)."""
    if NAME not in file:
        return None
    dataset = file[NAME]
    if dataset.dtype != RECORD or dataset.shape != (1,):
        raise CampaignFileError(f"{where}: damaged writer lease ({dataset.dtype})")
    offset = dataset.id.get_offset()
    if offset is None:
        raise CampaignFileError(f"{where}: damaged writer lease (no storage)")
    return int(offset)


def _read_at(fd: int, offset: int) -> Lease:
    """The lease record at ``offset`` of the open file ``fd`` (a plain ``pread``)."""
    raw = os.pread(fd, RECORD.itemsize, offset)
    if len(raw) != RECORD.itemsize:
        raise OSError("short read of the writer lease")
    return Lease.from_record(np.frombuffer(raw, dtype=RECORD))


def read_lease(path: Path) -> Lease | None:
    """The lease recorded in ``path`` (None for a file without one, e.g. format version 1).

    Raises:
        CampaignFileError: the file cannot be read.
    """
    try:
        offset = file_offset(path)
        if offset is None:
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            return _read_at(fd, offset)
        finally:
            os.close(fd)
    except OSError as exc:
        raise CampaignFileError(f"{path}: cannot read the writer lease ({exc})") from None


def _in_use(path: Path, lease: Lease, action: str) -> CampaignFileError:
    if lease.held_here(path):
        return CampaignFileError(f"{path}: already open for writing in this program; cannot"
                                 f" {action} twice")
    expiry = ("it stops" if lease.local() else
              f"it stops (its lease expires {STALE_SECONDS:.0f} s after its last heartbeat)")
    return CampaignFileError(f"{path}: in use by {lease.describe()}; cannot {action} until"
                             f" {expiry}")


def refuse_if_held(path: Path, action: str = "open it for writing",
                   allow_own: bool = False) -> None:
    """Raise when a live writer holds ``path``'s lease (this process's own when ``allow_own``
    is false)."""
    lease = read_lease(path)
    if lease is not None and lease.live() and not (allow_own and lease.held_here(path)):
        raise _in_use(path, lease, action)


class WriterLease:
    """This process's lease on a campaign file: taken on open, renewed, released on close.

    Args:
        path: the campaign file, a current-format campaign file.
        program: the program name recorded (default: this command's name).

    Raises:
        CampaignFileError: another live writer, or this process already, holds the lease.
    """

    def __init__(self, path: Path, program: str | None = None) -> None:
        self.path = path
        offset = file_offset(path)
        if offset is None:
            raise CampaignFileError(f"{path}: no writer lease in the file")
        self.offset = offset
        self._token = secrets.token_bytes(16)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR)
        try:
            self._key = _identity(path)
            current = _read_at(self._fd, offset)
            if current.live() or (current.taken and current.held_here(path)):
                raise _in_use(path, current, "open it for writing")
            now = time.time()
            record = np.zeros(1, RECORD)
            name = program or Path(sys.argv[0]).name or "python"
            record[0] = (np.frombuffer(self._token, np.uint8), os.getpid(), now, now,
                         host_name().encode()[:64], name.encode()[:32],
                         np.frombuffer(_boot_id(), np.uint8), pid_namespace(),
                         _start_ticks(os.getpid()))
            self._write(record.tobytes(), 0)
        except BaseException:
            os.close(self._fd)
            raise
        _HELD[self._key] = self._token
        self._thread = threading.Thread(target=self._beat, name="zbo-lease", daemon=True)
        self._thread.start()

    def _write(self, data: bytes, at: int) -> None:
        with self._lock:
            os.pwrite(self._fd, data, self.offset + at)
            os.fsync(self._fd)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                if self.check(raise_=False):
                    self._write(np.float64(time.time()).tobytes(), _HEARTBEAT_OFFSET)
            except OSError:  # the file system went away; the next write will say so
                return

    def check(self, raise_: bool = True) -> bool:
        """Whether this process still holds the lease; raises (by default) when it does not.

        Raises:
            CampaignFileError: another writer took the lease over (this one was judged stale).
        """
        with self._lock:
            if self._fd < 0:
                return False
            current = _read_at(self._fd, self.offset)
        if current.token == self._token:
            return True
        if raise_:
            who = (current.describe() if current.taken
                   else "the lease was freed by another process")
            raise CampaignFileError(
                f"{self.path}: another writer took this campaign file over: {who}; this"
                " process stops without writing")
        return False

    def release(self) -> None:
        """Stop the heartbeat and free the lease (if still ours); idempotent."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        if _HELD.get(self._key) == self._token:
            del _HELD[self._key]
        if self._fd < 0:
            return
        try:
            if self.check(raise_=False):
                self._write(np.zeros(1, RECORD).tobytes(), 0)
        except OSError:
            pass  # the file went away: nothing left to release
        finally:
            with self._lock:
                os.close(self._fd)
                self._fd = -1
