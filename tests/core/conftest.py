"""Shared fixtures of the engine tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's trainings on one torch thread (restored afterwards).

    The test machine's two cores are shared with other processes: two spinning torch threads
    then slow a small training many times over.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
