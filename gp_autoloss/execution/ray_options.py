"""The ``ray`` executor's options, declared apart from the executor so that checking them and ``--help`` never
import ray. The CLI spells them ``--ray-NAME`` (``--ray-num-cpus 2``); a config file as
``executor_options = {num_cpus = 2}``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gp_autoloss.errors import ConfigError
from gp_autoloss.options import Options, option

__all__ = ["RayOptions"]


@dataclass(frozen=True)
class RayOptions(Options):
    """Where and how the ``ray`` executor runs evaluations (see :mod:`gp_autoloss.execution.ray_executor`)."""

    flag_prefix = "--ray-"

    address: str = option("local", "where Ray runs: local (a Ray instance started on this machine), auto (the "
                          "running cluster) or a cluster's address", pattern=r"local|auto|(ray://)?[A-Za-z0-9_.\-]+:\d{1,5}",
                          rule="local, auto, HOST:PORT or ray://HOST:PORT", code=True)  # fmt: skip
    num_cpus: float = option(1.0, "CPUs per evaluation task", ge=0)
    num_gpus: float = option(0.0, "GPUs per evaluation task", ge=0)
    max_retries: int = option(2, "retries of an evaluation whose worker died", ge=0)
    reuse_workers: bool | None = option(None, "reuse a Ray worker for many evaluations (None: unless the task has "
                                        "GPUs, Ray's own rule)")  # fmt: skip
    runtime_env: dict[str, Any] | None = option(None, "Ray's runtime_env, merged with a PYTHONPATH holding the "
                                                "driver's import path", code=True)  # fmt: skip

    def check(self, owner: str, space: str | None) -> None:
        """A task must ask for some resource."""
        if self.num_cpus == 0 and self.num_gpus == 0:
            raise ConfigError(f"{owner}: a task needs num-cpus > 0 or num-gpus > 0")
