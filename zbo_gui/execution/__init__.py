"""Where trainings run: worker processes through Dask distributed (DESIGN.md §3).

``task`` is what travels and what runs on a worker; ``pool`` the executors the run loop drives
(Dask, or the calling thread); ``clusters`` the Dask cluster of a run (local processes, an
existing scheduler, SLURM jobs). Qt-free.
"""
