"""Clusters of batch jobs (SLURM, PBS, HTCondor, SGE) through dask-jobqueue.

``rawconv-parallel --cluster slurm --jobs 4 --cluster-config site.yaml`` submits 4 jobs,
each running Dask workers, and converts on them. The configuration file is dask-jobqueue's
own YAML form (``jobqueue: slurm: cores: ..., memory: ...``); its settings for the kind
asked for apply, on top of dask-jobqueue's defaults. ``local`` is dask-jobqueue's local job
class: the job scripts run as processes of this machine (to try a configuration).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rawconv.errors import RawconvError

log = logging.getLogger(__name__)

__all__ = [
    "KINDS",
    "ClusterConfigError",
    "cluster_settings",
    "job_cluster",
    "load_cluster_config",
]

KINDS = {
    "slurm": ("dask_jobqueue", "SLURMCluster"),
    "pbs": ("dask_jobqueue", "PBSCluster"),
    "htcondor": ("dask_jobqueue", "HTCondorCluster"),
    "sge": ("dask_jobqueue", "SGECluster"),
    "local": ("dask_jobqueue.local", "LocalCluster"),
}
"""``--cluster`` kind -> (module, class) of dask-jobqueue; the kind is also the name of its
section in the configuration."""

MISSING = "--cluster needs dask-jobqueue, which is not installed: pip install 'rawconv[jobqueue]'"


class ClusterConfigError(RawconvError, ValueError):
    """A ``--cluster-config`` file that cannot be used (its message names the file)."""


def check_kind(kind: str) -> str:
    """`kind` if it is one of :data:`KINDS`, else ValueError naming the flag."""
    if kind not in KINDS:
        raise ValueError(f"--cluster {kind}: unknown cluster kind (choose from {', '.join(KINDS)})")
    return kind


def load_cluster_config(path: str | Path, kind: str) -> dict[str, Any]:
    """The settings of section ``jobqueue: <kind>:`` of the YAML file `path` (empty when the
    file has none); a file that cannot be read, is not YAML, is not of dask-jobqueue's form
    or sets what dask-jobqueue does not know is a :class:`ClusterConfigError`."""
    import yaml

    name = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ClusterConfigError(f"cannot read it: {exc.strerror or exc}", path=name) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ClusterConfigError(f"not valid YAML: {problem}{where}", path=name) from None
    queues = data.get("jobqueue") if isinstance(data, dict) else None
    if not isinstance(queues, dict):
        raise ClusterConfigError(
            "not a dask-jobqueue configuration: it needs a mapping 'jobqueue:' of cluster "
            f"kinds ({', '.join(KINDS)}) to their settings",
            path=name,
        )
    section = queues.get(kind) or {}
    if not isinstance(section, dict):
        raise ClusterConfigError(f"jobqueue.{kind} must be a mapping of settings", path=name)
    return section


def _cluster_class(kind: str) -> Any:
    module, name = KINDS[kind]
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        error = RawconvError(MISSING)
    raise error


def cluster_settings(kind: str, config: str | None = None) -> dict[str, Any]:
    """The dask-jobqueue settings (``jobqueue.<kind>.<key>`` -> value) of `config` for
    `kind`, checked: every key one dask-jobqueue knows, cores and memory set (there or in
    dask's own configuration). A missing dask-jobqueue is a RawconvError, a bad
    configuration a :class:`ClusterConfigError`."""
    import dask

    _cluster_class(check_kind(kind))  # registers dask-jobqueue's defaults
    settings = load_cluster_config(config, kind) if config else {}
    known = dask.config.get(f"jobqueue.{kind}", default={})  # the defaults: every key
    for key in settings:
        if key not in known:
            raise ClusterConfigError(
                f"jobqueue.{kind}.{key}: not a dask-jobqueue setting (known: "
                f"{', '.join(sorted(known))})",
                path=config,
            )
    values = {f"jobqueue.{kind}.{k}": v for k, v in settings.items()}
    with dask.config.set(values):
        missing = [
            k for k in ("cores", "memory") if dask.config.get(f"jobqueue.{kind}.{k}") is None
        ]
    if missing:
        where = "" if config else ": give them in --cluster-config FILE"
        raise ClusterConfigError(
            f"jobqueue.{kind}.{' and '.join(missing)} not set{where} (dask-jobqueue needs the "
            "cores and memory of a job)",
            path=config,
        )
    return values


@contextlib.contextmanager
def job_cluster(kind: str, jobs: int, config: str | None = None, timeout: float | None = None,
                on_client: Callable[[Any], None] | None = None) -> Iterator[Any]:  # fmt: skip
    """A client of a dask-jobqueue cluster of `kind` with `jobs` jobs asked for, configured
    by the file `config` (:func:`cluster_settings`; dask-jobqueue reads its settings while
    the cluster runs, so they stay set until the block ends, when the jobs are stopped).
    `on_client` is called with the client as soon as it exists (``rawconv-parallel``
    prints the dashboard link with it, while the jobs may still wait in their queue).
    Then waits until one worker has joined, at most `timeout` seconds (None: no limit):
    then RawconvError."""
    import dask
    from distributed import Client

    cls = _cluster_class(check_kind(kind))
    values = cluster_settings(kind, config)
    submit = getattr(cls.job_cls, "submit_command", None)  # None: the local job class
    if submit and shutil.which(submit) is None:
        raise RawconvError(
            f"--cluster {kind}: {submit} is not found: run on a machine that submits {kind} jobs"
        )
    with dask.config.set(values):
        try:
            cluster = cls()
        except (ValueError, TypeError) as exc:
            error = ClusterConfigError(f"jobqueue.{kind}: {str(exc).splitlines()[0]}", path=config)
        else:
            error = None
        if error is not None:
            raise error
        try:
            cluster.scale(jobs=jobs)
            with Client(cluster) as client:
                if on_client is not None:
                    on_client(client)
                try:
                    client.wait_for_workers(1, timeout=timeout)
                except TimeoutError:
                    raise RawconvError(
                        f"--cluster {kind}: no worker joined within {timeout:g} s (the jobs "
                        "may still wait in the queue, or failed to start: see their logs); "
                        "--worker-timeout sets the wait"
                    ) from None
                yield client
        finally:
            try:
                cluster.close()
            except Exception as exc:  # never hides the run's own outcome
                log.warning("--cluster %s: stopping the jobs failed (%s: %s); check that none "
                            "is left running", kind, type(exc).__name__, exc)  # fmt: skip
