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
from zbo_gui.storage import _lease
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
    long = dataclasses.replace(evaluation, message="β" * 2000)
    with CampaignStore.create(tmp_path / "c.h5", fx.CONFIG_TOML, "1") as store:
        store.append_evaluation(long)
        message = store.read_evaluations()[0].message
    assert message.startswith("ββ") and message.endswith("…")
    assert len(message.encode("utf-8")) <= 1024


# ---------------------------------------------------------------------------- the lease
def test_a_writer_records_its_lease_and_frees_it_on_close(campaign: Path) -> None:
    before = time.time()
    with CampaignStore.open(campaign, writable=True) as store:
        lease = store.writer()
        assert lease is not None and lease.mine() and lease.live()
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


def _write_lease(path: Path, *, host: str, pid: int, age: float) -> None:
    now = time.time()
    record = np.zeros(1, _lease.RECORD)
    record[0] = (b"x" * 16, pid, now - 3600, now - age, host.encode(), b"zbo")
    with h5py.File(path, "r+") as f:
        f[_lease.NAME][...] = record


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
        assert store.writer().mine()


def test_the_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(campaign: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_lease(campaign, host=socket.gethostname(), pid=dead.pid, age=1.0)
    with CampaignStore.open(campaign, writable=True) as store:
        assert store.writer().mine()


def test_a_writer_whose_lease_was_taken_over_writes_nothing(campaign: Path) -> None:
    rng = np.random.default_rng(5)
    with CampaignStore.open(campaign, writable=True) as store:
        _write_lease_raw(campaign, host="node3", pid=77)
        with pytest.raises(CampaignFileError, match="another writer took this campaign file"
                                                    " over: zbo \\(pid 77 on node3"):
            store.append_evaluation(fx.make_evaluation(3, rng))
        assert store.n_evaluations == 3
    lease = CampaignStore.open(campaign).writer()
    assert lease is not None and lease.pid == 77  # not freed by the writer that lost it


def _write_lease_raw(path: Path, *, host: str, pid: int) -> None:
    """What another process's ``WriterLease`` does on taking a stale lease over."""
    offset = _lease._offset(path)
    now = time.time()
    record = np.zeros(1, _lease.RECORD)
    record[0] = (b"y" * 16, pid, now, now, host.encode(), b"zbo")
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, record.tobytes(), offset)
    finally:
        os.close(fd)


def test_a_second_writer_process_is_refused_without_file_locks(campaign: Path) -> None:
    env = {**os.environ, "HDF5_USE_FILE_LOCKING": "FALSE"}
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from zbo_gui.storage.campaign_file import CampaignStore
            store = CampaignStore.open({str(campaign)!r}, writable=True)
            print("open", flush=True)
            sys.stdin.read()
            store.close()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
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
    env = {**os.environ, "HDF5_USE_FILE_LOCKING": "FALSE"}
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from zbo_gui.storage.campaign_file import CampaignStore
            store = CampaignStore.open({str(campaign)!r}, writable=True)
            print("open", flush=True)
            time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    holder.kill()
    holder.wait()
    lease = CampaignStore.open(campaign).writer()
    assert lease is not None and lease.taken and lease.pid == holder.pid and not lease.live()
    with CampaignStore.open(campaign, writable=True) as store:
        assert store.writer().mine()
