"""Checksums and the writer lease of the campaign file (format version 2)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.fixtures import make_fixtures as fx
from zbo_gui.core.errors import CampaignFileError
from zbo_gui.storage import _evaluations, _lease
from zbo_gui.storage.campaign_file import CampaignStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    """A campaign file with every stage, three evaluations and a final result."""
    path = tmp_path / "campaign.h5"
    fx.write_current(path)
    return path


def _datasets(path: Path) -> list[str]:
    names: list[str] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: names.append("/" + name)
                     if isinstance(obj, h5py.Dataset) and name != _lease.NAME else None)
    return names


def flip_bytes(path: Path, dataset: str, count: int = 64) -> None:
    """Flip ``count`` bytes in the middle of the first chunk of ``dataset``'s stored data."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(0)
    start = info.byte_offset + max(0, (info.size - count) // 2)
    n = min(count, info.size)
    with path.open("r+b") as f:
        f.seek(start)
        data = bytearray(f.read(n))
        f.seek(start)
        f.write(bytes(b ^ 0x5A for b in data))


# ---------------------------------------------------------------------------- checksums
def test_every_dataset_but_the_lease_carries_a_checksum(campaign: Path) -> None:
    with h5py.File(campaign, "r") as f:
        assert not f[_lease.NAME].fletcher32 and f[_lease.NAME].chunks is None
        for name in _datasets(campaign):
            assert f[name].fletcher32, name


def test_flipped_bytes_in_any_dataset_are_reported_naming_it(campaign: Path) -> None:
    names = _datasets(campaign)
    assert len(names) > 20
    original = campaign.read_bytes()
    for name in names:
        campaign.write_bytes(original)
        flip_bytes(campaign, name)
        with pytest.raises(CampaignFileError) as info, CampaignStore.open(campaign) as store:
            store.verify()
        text = str(info.value)
        assert f"damaged data in {name} " in text and str(campaign) in text, text
        assert "checksum" in text and "\n" not in text


@pytest.mark.parametrize(("dataset", "read"), [
    ("/grid/points", lambda s: s.read_grid()),
    ("/evaluations/z", lambda s: s.read_evaluations()),
    ("/evaluations/rows", lambda s: s.read_evaluations()),
    ("/evaluations/replicates/manifolds", lambda s: s.read_evaluations()),
    ("/dataset/images", lambda s: s.read_dataset()),
    ("/seeds/families", lambda s: s.read_seeds()),
    ("/config", lambda s: s.config_toml),
    ("/schedule_vae/meta", lambda s: s.read_schedule_vae()),
])
def test_each_read_checks_the_checksums_of_what_it_reads(campaign: Path, dataset: str,
                                                         read) -> None:
    flip_bytes(campaign, dataset)
    with (pytest.raises(CampaignFileError, match=f"damaged data in {dataset} "),
          CampaignStore.open(campaign) as store):
        read(store)


def test_an_undamaged_file_verifies(campaign: Path) -> None:
    with CampaignStore.open(campaign) as store:
        assert store.verify() == len(_datasets(campaign)) + 1  # and the lease


def test_long_messages_are_cut_at_a_character_boundary(tmp_path: Path) -> None:
    import dataclasses

    rng = np.random.default_rng(3)
    evaluation = fx.make_evaluation(0, rng)
    long = dataclasses.replace(evaluation, message="β" * 3000)  # 6000 bytes
    with CampaignStore.create(tmp_path / "c.h5", fx.CONFIG_TOML, "1") as store:
        store.append_evaluation(long)
        message = store.read_evaluations()[0].message
    assert message.startswith("ββ") and message.endswith("…")
    assert len(message.encode("utf-8")) <= _evaluations.MESSAGE_BYTES < 6000


# ---------------------------------------------------------------------------- the lease
def test_a_writer_records_its_lease_and_frees_it_on_close(campaign: Path) -> None:
    before = time.time()
    with CampaignStore.open(campaign, writable=True) as store:
        lease = store.writer()
        assert lease is not None and lease.held_here(campaign) and lease.live()
        assert lease.host == socket.gethostname() and lease.pid == os.getpid()
        assert before - 1 <= lease.started <= lease.heartbeat <= time.time() + 1
        with h5py.File(campaign, "r") as f:  # the raw record is the dataset's value
            stored = _lease.Lease.from_record(f[_lease.NAME][...])
        assert stored == lease
    after = CampaignStore.open(campaign).writer()
    assert after is not None and not after.taken and not after.live()


def test_the_heartbeat_is_renewed(campaign: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_lease, "HEARTBEAT_SECONDS", 0.05)
    with CampaignStore.open(campaign, writable=True) as store:
        first = store.writer()
        time.sleep(0.3)
        later = store.writer()
    assert first is not None and later is not None
    assert later.heartbeat > first.heartbeat and later.started == first.started


def _record(*, host: str, pid: int, age: float, local: bool = False) -> np.ndarray:
    """A lease record of ``pid`` on ``host`` with a heartbeat ``age`` seconds old (``local``:
    with this machine's boot id and pid namespace, and the pid's real start time)."""
    now = time.time()
    record = np.zeros(1, _lease.RECORD)
    fields = {"token": np.frombuffer(b"x" * 16, np.uint8), "pid": pid, "started": now - 3600,
              "heartbeat": now - age,
              "host": host.encode(), "program": b"zbo"}
    if local:
        fields.update(boot=np.frombuffer(_lease._boot_id(), np.uint8),
                      pidns=_lease.pid_namespace(),
                      pid_start=_lease._start_ticks(pid))
    for name, value in fields.items():
        record[name] = value
    return record


def _write_lease(path: Path, *, host: str, pid: int, age: float, local: bool = False) -> None:
    """Write a lease record as another process's ``WriterLease`` would (plain ``pwrite``)."""
    offset = _lease.file_offset(path)
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, _record(host=host, pid=pid, age=age, local=local).tobytes(), offset)
    finally:
        os.close(fd)


def test_a_live_lease_of_another_host_refuses_a_second_writer(campaign: Path) -> None:
    _write_lease(campaign, host="node17.cluster", pid=4242, age=5.0)
    before = campaign.read_bytes()
    with pytest.raises(CampaignFileError) as info:
        CampaignStore.open(campaign, writable=True)
    text = str(info.value)
    assert "in use by zbo (pid 4242 on node17.cluster" in text and "\n" not in text
    assert campaign.read_bytes() == before
    with pytest.raises(CampaignFileError, match=r"pid 4242 on node17\.cluster"):
        CampaignStore.create(campaign, fx.CONFIG_TOML, "1", overwrite=True)
    assert campaign.read_bytes() == before
    with CampaignStore.open(campaign) as reader:  # readers are not refused
        assert reader.n_evaluations == 3


def test_a_stale_lease_is_taken_over(campaign: Path) -> None:
    _write_lease(campaign, host="node17.cluster", pid=4242, age=_lease.STALE_SECONDS + 5)
    with CampaignStore.open(campaign, writable=True) as store:
        assert store.writer().held_here(campaign)


def test_the_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(campaign: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_lease(campaign, host=socket.gethostname(), pid=dead.pid, age=1.0, local=True)
    with CampaignStore.open(campaign, writable=True) as store:
        assert store.writer().held_here(campaign)


def test_a_writer_whose_lease_was_taken_over_writes_nothing(campaign: Path) -> None:
    rng = np.random.default_rng(5)
    with CampaignStore.open(campaign, writable=True) as store:
        _write_lease(campaign, host="node3", pid=77, age=0.0)
        with pytest.raises(CampaignFileError, match="another writer took this campaign file"
                                                    " over: zbo \\(pid 77 on node3"):
            store.append_evaluation(fx.make_evaluation(3, rng, pairs=True))
        assert store.n_evaluations == 3
    lease = CampaignStore.open(campaign).writer()
    assert lease is not None and lease.pid == 77  # not freed by the writer that lost it


NO_LOCKS = {**os.environ, "HDF5_USE_FILE_LOCKING": "FALSE"}


def _holder(campaign: Path, wait: str) -> subprocess.Popen[str]:
    """Another process holding ``campaign`` open for writing (HDF5 locks off) until ``wait``
    (Python code) returns; it has printed "open" once it holds the file."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from zbo_gui.storage.campaign_file import CampaignStore
        store = CampaignStore.open({str(campaign)!r}, writable=True)
        print("open", flush=True)
        {wait}
        store.close()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=NO_LOCKS, cwd=ROOT)


def test_a_second_writer_process_is_refused_without_file_locks(campaign: Path) -> None:
    env = NO_LOCKS
    holder = _holder(campaign, "sys.stdin.read()")
    second = [sys.executable, "-c", textwrap.dedent(f"""
        from zbo_gui.storage.campaign_file import CampaignStore
        from zbo_gui.core.errors import CampaignFileError
        try:
            CampaignStore.open({str(campaign)!r}, writable=True).close()
            print("opened")
        except CampaignFileError as exc:
            print("refused:", exc)
    """)]
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        before = campaign.read_bytes()
        result = subprocess.run(second, capture_output=True, text=True, env=env, cwd=ROOT,
                                timeout=60, check=True)
        assert result.stdout.startswith("refused: "), result.stdout + result.stderr
        assert f"(pid {holder.pid} on {socket.gethostname()}" in result.stdout
        assert campaign.read_bytes() == before
    finally:
        holder.communicate("", timeout=30)
    result = subprocess.run(second, capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=60, check=True)
    assert result.stdout.strip() == "opened", result.stdout + result.stderr


def test_a_killed_writer_process_does_not_block_the_next(campaign: Path) -> None:
    holder = _holder(campaign, "time.sleep(600)")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    holder.kill()
    holder.wait()
    lease = CampaignStore.open(campaign).writer()
    assert lease is not None and lease.taken and lease.pid == holder.pid and not lease.live()
    with CampaignStore.open(campaign, writable=True) as store:
        assert store.writer().held_here(campaign)


def test_a_live_local_writer_keeps_its_lease_however_old_its_heartbeat(campaign: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:  # e.g. a `zbo run` suspended with Ctrl-Z for an hour
        _write_lease(campaign, host=socket.gethostname(), pid=sleeper.pid, age=3600.0,
                     local=True)
        with pytest.raises(CampaignFileError, match=f"in use by zbo \\(pid {sleeper.pid} "):
            CampaignStore.open(campaign, writable=True)
    finally:
        sleeper.kill()
        sleeper.wait()
    with CampaignStore.open(campaign, writable=True) as store:  # its process is gone
        assert store.writer().held_here(campaign)


def test_a_damaged_heartbeat_does_not_block_for_ever(campaign: Path) -> None:
    for age in (float("nan"), -10 * 86400.0):  # NaN, ten days in the future
        _write_lease(campaign, host="node17", pid=4242, age=age)
        with CampaignStore.open(campaign, writable=True) as store:
            assert store.writer().held_here(campaign)


def test_one_program_cannot_open_a_file_for_writing_twice(campaign: Path) -> None:
    rng = np.random.default_rng(8)
    with CampaignStore.open(campaign, writable=True) as first:
        with pytest.raises(CampaignFileError, match="already open for writing in this program"):
            CampaignStore.open(campaign, writable=True)
        with pytest.raises(CampaignFileError, match="already open for writing in this program"):
            CampaignStore.create(campaign, fx.CONFIG_TOML, "1", overwrite=True)
        # the first store still writes
        first.append_evaluation(fx.make_evaluation(3, rng, pairs=True))
    with CampaignStore.open(campaign) as store:
        assert store.n_evaluations == 4 and store.verify() > 0
    assert sorted(p.name for p in campaign.parent.iterdir()) == [campaign.name]


def test_a_writer_that_lost_its_lease_closes_without_harm(campaign: Path) -> None:
    """The old writer's close must not write HDF5's header over the new writer's growth."""
    store = CampaignStore.open(campaign, writable=True)
    try:
        _write_lease(campaign, host="node3", pid=77, age=0.0)  # taken over (judged stale) ...
        grow = textwrap.dedent(f"""
            import h5py, numpy as np
            with h5py.File({str(campaign)!r}, "r+", locking=False) as f:  # ... and written
                f.create_dataset("grown", data=np.arange(1_000_000.0), fletcher32=True,
                                 chunks=(65536,))
        """)
        subprocess.run([sys.executable, "-c", grow], check=True, timeout=60)
    finally:
        store.close()  # the old writer goes away
    with CampaignStore.open(campaign) as after:
        after.verify()
        assert after.n_evaluations == 3
    with h5py.File(campaign, "r") as f:
        np.testing.assert_array_equal(f["grown"][-3:], [999_997.0, 999_998.0, 999_999.0])


def test_readers_see_a_consistent_file_while_a_writer_appends(campaign: Path) -> None:
    from zbo_gui.storage.campaign_file import read_campaign

    env = {**os.environ, "HDF5_USE_FILE_LOCKING": "FALSE"}
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        import numpy as np
        from tests.fixtures import make_fixtures as fx
        from zbo_gui.storage.campaign_file import CampaignStore
        rng = np.random.default_rng(0)
        with CampaignStore.open({str(campaign)!r}, writable=True) as store:
            print("open", flush=True)
            for i in range(3, 400):  # far more often than trainings end
                store.append_evaluation(fx.make_evaluation(i, rng, replicates=2, pairs=True))
                time.sleep(0.2)
    """)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    seen = []
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        while writer.poll() is None and len(seen) < 30:
            _, evaluations = read_campaign(campaign, lambda s: (s.verify(), s.read_evaluations()))
            assert [e.index for e in evaluations] == list(range(len(evaluations)))
            seen.append(len(evaluations))
    finally:
        writer.kill()
        writer.wait()
    assert len(seen) >= 5 and seen[-1] > seen[0], seen  # it really read during the appends


def test_a_token_ending_in_zero_bytes_is_still_the_writers(campaign: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_lease.secrets, "token_bytes", lambda n: b"\x07" * (n - 2) + b"\0\0")
    rng = np.random.default_rng(9)
    with CampaignStore.open(campaign, writable=True) as store:
        assert store.writer().held_here(campaign)
        store.append_evaluation(fx.make_evaluation(3, rng, pairs=True))
    lease = CampaignStore.open(campaign).writer()
    assert lease is not None and not lease.taken  # freed: the writer knew it was its own
