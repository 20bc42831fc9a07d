"""The Dask cluster a run's evaluations train on (``[execution]``).

- ``scheduler = ""``, ``cluster = "local"`` (the default): a ``LocalCluster`` of ``workers``
  worker processes on this machine, one training each, started for the run and closed after it;
  with dask-cuda installed and several GPUs, a ``LocalCUDACluster`` (one GPU per worker, by
  ``CUDA_VISIBLE_DEVICES``); without it, worker k trains on GPU k mod count
  (``task.device_of_worker``).
- ``scheduler = "tcp://host:8786"``: an existing Dask cluster (its workers need this package).
- ``cluster = "slurm"``: one SLURM job per worker through dask-jobqueue's ``SLURMCluster``,
  with the job options of ``[execution]`` (:func:`slurm_cluster`).

Worker processes die with the process that started them (Dask's nanny closes a worker whose
parent is gone), so a killed driver leaves no orphans. A worker that dies mid-task makes the
scheduler run that task once more elsewhere (``allowed-failures = 1``), then give up.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from zbo_gui.core.config import ExecutionConfig
from zbo_gui.core.errors import ConfigError

log = logging.getLogger(__name__)

#: Dask resource each worker of a cluster started here offers once: one training at a time.
RESOURCE = "zbo_training"
#: Seconds to wait for an existing scheduler to answer.
CONNECT_TIMEOUT = 20.0
#: Seconds to wait for the first worker of a cluster on this machine (or of a scheduler).
WORKER_TIMEOUT = 120.0
#: The environment of each worker process: Dask's own (one BLAS thread: the training sets its
#: torch threads) without its ``MALLOC_TRIM_THRESHOLD_=65536``, which made a preset-Q training
#: 1.3-1.4x slower (21.1 s instead of 15.2 s on 1 thread: the allocator gave memory back to
#: the system and took it again at every step).
WORKER_ENVIRON = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}
#: Dask settings of the clusters started here.
DASK_SETTINGS = {
    "distributed.scheduler.allowed-failures": 1,  # a task whose worker died: retried once
    "distributed.admin.tick.limit": "5s",  # a training holds the GIL at times: no warnings
    "distributed.nanny.pre-spawn-environ": WORKER_ENVIRON,
}


def _cuda_devices() -> int:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def local_cluster(config: ExecutionConfig) -> Any:
    """A cluster of ``config.workers`` worker processes on this machine, one training each."""
    import dask
    from distributed import LocalCluster

    options: dict[str, Any] = {
        "n_workers": config.workers, "threads_per_worker": 1, "processes": True,
        "dashboard_address": ":0", "silence_logs": logging.ERROR, "memory_limit": 0,
        "resources": {RESOURCE: 1},
    }
    gpus = _cuda_devices()
    with dask.config.set(DASK_SETTINGS):
        if gpus > 1:
            try:
                from dask_cuda import LocalCUDACluster
            except ImportError:
                log.info("dask-cuda is not installed: worker k trains on GPU k mod count")
            else:
                visible = ",".join(str(i % gpus) for i in range(config.workers))
                return LocalCUDACluster(CUDA_VISIBLE_DEVICES=visible, **options)
        return LocalCluster(**options)


def slurm_cluster(config: ExecutionConfig, threads: int, scale: bool = True) -> Any:
    """dask-jobqueue's ``SLURMCluster``: one job per worker, each with ``threads`` cores, the
    memory, wall time, partition, account and GPUs of ``config`` and its extra directives.

    Args:
        config: the ``[execution]`` section (``cluster = "slurm"``).
        threads: cores per job (torch threads of its training).
        scale: submit ``config.workers`` jobs now (False: only build the job script).

    Raises:
        ConfigError: dask-jobqueue is not installed.
    """
    import dask

    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise ConfigError("execution.cluster = \"slurm\" needs dask-jobqueue: pip install"
                          " dask-jobqueue") from None
    directives = list(config.job_extra)
    if config.gpus:
        directives.append(f"--gres=gpu:{config.gpus}")
    with dask.config.set(DASK_SETTINGS):
        cluster = SLURMCluster(
            queue=config.queue or None, account=config.account or None, cores=threads,
            processes=1, memory=config.memory, walltime=config.walltime,
            job_extra_directives=directives, python=sys.executable,
            job_script_prologue=[  # the workers' nannies read it: see WORKER_ENVIRON
                f"export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON=\"{WORKER_ENVIRON}\""],
            worker_extra_args=["--resources", f"{RESOURCE}=1"],
            scheduler_options={"dashboard_address": ":0"}, job_name="zbo-worker",
        )
    if scale:
        cluster.scale(jobs=config.workers)
    return cluster


def connect(config: ExecutionConfig, cores: int) -> tuple[Any, Any]:
    """A client of the cluster ``config`` asks for and the cluster to close after the run
    (None for an existing scheduler).

    Raises:
        ConfigError: the scheduler cannot be reached, or no worker joined in time.
    """
    from distributed import Client

    # Dask logs each start and close of its scheduler and workers at INFO: not the person's news
    logging.getLogger("distributed").setLevel(logging.WARNING)
    owned = None
    if config.scheduler:
        address = config.scheduler
    elif config.cluster == "slurm":
        owned = slurm_cluster(config, config.threads(cores))
        address = owned
    else:
        owned = local_cluster(config)
        address = owned
    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT}s")
    except (OSError, TimeoutError) as exc:
        if owned is not None:
            owned.close()
        raise ConfigError(f"cannot reach the Dask scheduler {config.scheduler or 'started'}"
                          f" ({type(exc).__name__}: {exc})") from None
    if config.cluster == "slurm" and not config.scheduler:
        return client, owned  # jobs may wait in the queue: tasks wait for them
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except TimeoutError:
        client.close()
        if owned is not None:
            owned.close()
        where = config.scheduler or ("SLURM" if config.cluster == "slurm" else "this machine")
        raise ConfigError(f"no Dask worker joined within {WORKER_TIMEOUT:.0f} s ({where})"
                          ) from None
    return client, owned
