"""mmdet components of gp-autoloss; importing this module registers them in mmdet's ``MODELS``.

Use from any mmdet 3.x config::

    custom_imports = dict(imports=['detectors_adapter.models'], allow_failed_imports=False)
    model = dict(roi_head=dict(bbox_head=dict(type='GPShared2FCBBoxHead', reg_decoded_bbox=True,
        loss_cls=dict(type='GPLoss', formula='cse_a_cls'),
        loss_bbox=dict(type='GPLoss', formula='cse_a_reg', loss_weight=10.0))))
"""

from detectors_adapter.models.bbox_head import GPBBoxLossMixin, GPShared2FCBBoxHead, GPShared4Conv1FCBBoxHead
from detectors_adapter.models.cpu_ddp import CPUDistributedDataParallel, allow_cpu_ranks
from detectors_adapter.models.dense_ghm import DenseGHMCLoss
from detectors_adapter.models.fcos_head import GPFCOSHead
from detectors_adapter.models.frozen_cache import FrozenCacheResNet
from detectors_adapter.models.gp_loss import SUPPORTED_SPACES, GPLoss, box_terms, load_formula
from detectors_adapter.models.hooks import CurveRecorderHook, NonFiniteLossError, NonFiniteLossHook, ProxyBudgetHook
from detectors_adapter.models.pretrained import BatchTraceHook, LoadPretrainedHook, load_pretrained

__all__ = [
    "SUPPORTED_SPACES",
    "BatchTraceHook",
    "CPUDistributedDataParallel",
    "CurveRecorderHook",
    "DenseGHMCLoss",
    "FrozenCacheResNet",
    "GPBBoxLossMixin",
    "GPFCOSHead",
    "GPLoss",
    "GPShared2FCBBoxHead",
    "GPShared4Conv1FCBBoxHead",
    "LoadPretrainedHook",
    "NonFiniteLossError",
    "NonFiniteLossHook",
    "ProxyBudgetHook",
    "allow_cpu_ranks",
    "box_terms",
    "load_formula",
    "load_pretrained",
]  # fmt: skip
