"""Distributed training on CPU ranks (gloo): what mmengine 0.10's GPU-only defaults leave out.

mmengine's runner passes ``device_ids=[LOCAL_RANK]`` to its DDP wrapper, which torch rejects for a module on
the CPU, and its ``init_dist`` selects a CUDA device per rank unconditionally. The adapter's ``nproc`` option
on ``device=cpu`` uses :class:`CPUDistributedDataParallel` and :func:`allow_cpu_ranks`; on GPUs neither is
used.
"""

from __future__ import annotations

from typing import Any

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

__all__ = ["CPUDistributedDataParallel", "allow_cpu_ranks"]


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper for a model on the CPU: ``device_ids`` is dropped (torch requires ``None``)."""

    def __init__(self, module: torch.nn.Module, device_ids: Any = None, **kwargs: Any) -> None:
        super().__init__(module=module, device_ids=None, **kwargs)


def allow_cpu_ranks() -> None:
    """Make ``torch.cuda.set_device`` a no-op in this CPU-only rank, so that mmengine's ``init_dist`` passes."""
    if not torch.cuda.is_available():
        torch.cuda.set_device = lambda device: None  # type: ignore[assignment]
