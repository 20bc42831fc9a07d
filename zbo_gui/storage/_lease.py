"""The writer lease: which process may write a campaign file, recorded in the file itself.

HDF5's own file lock is often switched off on cluster file systems
(``HDF5_USE_FILE_LOCKING=FALSE`` on NFS/Lustre), so a campaign file carries its writer: the
dataset ``/writer``, one record (host, pid, program, start, heartbeat, a random token), stored
*contiguously* at a fixed place in the file. The writer reads and writes that record with plain
``pread``/``pwrite`` on its own descriptor, never through HDF5, so no HDF5 cache ever holds a stale
copy and a heartbeat is one small write that a kill cannot tear.

A lease is *held* while its heartbeat (renewed every :data:`HEARTBEAT_SECONDS` by a thread) is
younger than :data:`STALE_SECONDS`, unless its process is known dead (same host, no such pid):
a crashed writer's lease never blocks the next one for long, a killed one on the same host not
at all. A writer checks its token before every write, so a writer whose lease was taken over
stops without writing.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from zbo_gui.core.errors import CampaignFileError
from zbo_gui.storage._files import host_name, pid_alive, read_without_lock

#: Name of the lease dataset at the root of a campaign file.
NAME = "writer"
#: Seconds between two heartbeats of a writer.
HEARTBEAT_SECONDS = 10.0
#: A lease whose heartbeat is older than this is stale: the next writer takes it over.
STALE_SECONDS = 60.0

RECORD = np.dtype([
    ("token", "S16"), ("pid", "<i8"), ("started", "<f8"), ("heartbeat", "<f8"),
    ("host", "S64"), ("program", "S32"),
])
_HEARTBEAT_OFFSET = RECORD.fields["heartbeat"][1]


def create_lease(file: h5py.File) -> None:
    """Add an empty (free) lease record to a new or migrated campaign file."""
    file.create_dataset(NAME, data=np.zeros(1, RECORD))  # contiguous: a fixed file offset


@dataclass(frozen=True)
class Lease:
    """One lease record as read from a file.

    Attributes:
        token: the holder's random token (empty when free).
        pid, host, program: who holds it.
        started: when the holder opened the file (Unix time).
        heartbeat: its latest heartbeat (Unix time).
    """

    token: bytes
    pid: int
    host: str
    program: str
    started: float
    heartbeat: float

    @classmethod
    def from_record(cls, record: np.ndarray) -> Lease:
        """Parse a ``(1,)`` :data:`RECORD` array."""
        r = record[0]
        return cls(bytes(r["token"]), int(r["pid"]), r["host"].decode("utf-8", "replace"),
                   r["program"].decode("utf-8", "replace"), float(r["started"]),
                   float(r["heartbeat"]))

    @property
    def taken(self) -> bool:
        """Whether a writer recorded itself (it may have died since)."""
        return self.pid != 0

    def age(self, now: float | None = None) -> float:
        """Seconds since the last heartbeat."""
        return (time.time() if now is None else now) - self.heartbeat

    def live(self, now: float | None = None) -> bool:
        """Whether the lease blocks another writer (see the module docstring)."""
        if not self.taken or self.age(now) > STALE_SECONDS:
            return False
        return not (self.host == host_name() and not pid_alive(self.pid))

    def mine(self) -> bool:
        """Whether this process holds it."""
        return self.taken and self.host == host_name() and self.pid == os.getpid()

    def describe(self, now: float | None = None) -> str:
        """``zbo (pid 123 on host, since 2026-12-01 03:21 UTC, last heartbeat 4 s ago)``."""
        since = datetime.fromtimestamp(self.started, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (f"{self.program or 'a writer'} (pid {self.pid} on {self.host}, since {since},"
                f" last heartbeat {max(0.0, self.age(now)):.0f} s ago)")


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


def _offset(path: Path) -> int | None:
    """The file offset of the lease record in ``path``, read without HDF5's file lock."""
    with read_without_lock(path) as file:
        return offset_in(file, path)


def _read_at(fd: int, offset: int) -> Lease:
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
        offset = _offset(path)
        if offset is None:
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            return _read_at(fd, offset)
        finally:
            os.close(fd)
    except OSError as exc:
        raise CampaignFileError(f"{path}: cannot read the writer lease ({exc})") from None


def refuse_if_held(path: Path, action: str = "open it for writing") -> None:
    """Raise when another live writer holds ``path``'s lease (this process's own is fine)."""
    lease = read_lease(path)
    if lease is not None and lease.live() and not lease.mine():
        raise CampaignFileError(
            f"{path}: in use by {lease.describe()}; cannot {action} until it stops (a crashed"
            f" writer's lease expires {STALE_SECONDS:.0f} s after its last heartbeat)")


class WriterLease:
    """This process's lease on a campaign file: acquired on open, renewed, released on close.

    Args:
        path: the campaign file, already checked to be a current-format campaign file.
        offset: the lease record's offset in the file (:func:`offset_in`).
        program: the program name recorded (default: this command's name).

    Raises:
        CampaignFileError: another live writer holds the lease.
    """

    def __init__(self, path: Path, offset: int | None, program: str | None = None) -> None:
        self.path = path
        if offset is None:
            raise CampaignFileError(f"{path}: no writer lease in the file")
        self._offset = offset
        self._token = secrets.token_bytes(16)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR)
        try:
            current = _read_at(self._fd, offset)
            if current.live() and not current.mine():
                raise CampaignFileError(
                    f"{path}: in use by {current.describe()}; wait until it stops (a crashed"
                    f" writer's lease expires {STALE_SECONDS:.0f} s after its last heartbeat)")
            now = time.time()
            record = np.zeros(1, RECORD)
            name = program or Path(sys.argv[0]).name or "python"
            record[0] = (self._token, os.getpid(), now, now, host_name().encode()[:64],
                         name.encode()[:32])
            self._write(record.tobytes(), 0)
        except BaseException:
            os.close(self._fd)
            raise
        self._thread = threading.Thread(target=self._beat, name="zbo-lease", daemon=True)
        self._thread.start()

    def _write(self, data: bytes, at: int) -> None:
        with self._lock:
            os.pwrite(self._fd, data, self._offset + at)
            os.fsync(self._fd)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                if self.check(raise_=False):
                    self._write(np.float64(time.time()).tobytes(), _HEARTBEAT_OFFSET)
            except OSError:  # the descriptor went away with the file system; writes will tell
                return

    def check(self, raise_: bool = True) -> bool:
        """Whether this process still holds the lease; raises (by default) when it does not.

        Raises:
            CampaignFileError: another writer took the lease over (this one was judged stale).
        """
        with self._lock:
            if self._fd < 0:
                return False
            current = _read_at(self._fd, self._offset)
        if current.token == self._token:
            return True
        if raise_:
            raise CampaignFileError(
                f"{self.path}: another writer took this campaign file over: "
                f"{current.describe()}; this process stops without writing")
        return False

    def release(self) -> None:
        """Stop the heartbeat and free the lease (if still ours); idempotent."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
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
