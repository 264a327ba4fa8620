"""``MMDetFitnessAdapter``: score a candidate loss by the bbox mAP of a real MMDetection detector.

* ``verify(loss, seed)`` -- the paper's model-optimization simulation: train on D_verify (one image per
  category of the training split, built once per adapter from ``data_seed``) and test on the same images;
* ``proxy(loss, seed)`` -- train for ``epochs`` on the proxy split (``proxy_images`` random training images,
  all by default) and test on the val split (``val_limit`` random val images, all by default).

The searched branch (the adapter's space) gets ``GPLoss(candidate)``; the other branch keeps the detector's
fixed loss (Faster R-CNN: CE / GIoU x10, FCOS: focal / GIoU) unless ``other_loss`` names a formula for it.
Every evaluation runs isolated: its own temporary work directory, a subprocess
(``python -m detectors_adapter.train_one``) killed with its process group after ``time_limit`` seconds,
stopped at the first NaN/inf loss, no checkpoints, and the directory removed afterwards.
A candidate that diverges, crashes training or runs out of time raises
:class:`~gp_autoloss.fitness.CandidateFailed`; bad settings raise a one-line :class:`ConfigError`.
The parent process never imports mmdet.

>>> adapter = MMDetFitnessAdapter("sigmoid_cls", detector="fcos_tiny", data_root="data/shapes_v2",
...                               generate_data=True, epochs=3)                     # doctest: +SKIP
>>> adapter.proxy(gp_autoloss.known_loss("fli"), seed=0)                            # doctest: +SKIP
0.11...
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import weakref
from pathlib import Path
from typing import Any, ClassVar

from detectors_adapter.data.coco import build_verify_set, category_names, sample_subset, validate_coco
from detectors_adapter.data.synthetic import DEFAULT_DATA_ROOT, ensure_dataset
from detectors_adapter.detectors import DETECTORS, get_detector
from detectors_adapter.pretrained_weights import resolve_pretrained
from detectors_adapter.spec import TrainSpec
from gp_autoloss.errors import ConfigError, GpAutolossError
from gp_autoloss.fitness.base import CandidateFailed, FitnessAdapter
from gp_autoloss.loss import Loss, parse

__all__ = ["DETECTORS", "MMDetFitnessAdapter", "ensure_default_dataset"]

REPO_ROOT = Path(__file__).resolve().parent.parent
#: ``train(other_formula=...)`` default: the adapter's own ``other_loss``
_ADAPTER: Any = object()
_LOG_TAIL = 2000


def ensure_default_dataset(root: str | Path = DEFAULT_DATA_ROOT, **kwargs: int) -> dict[str, Path]:
    """Generate the synthetic shapes dataset at ``root`` unless it exists (used by ``make demo``)."""
    return ensure_dataset(root, **kwargs)


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported (an import hook may refuse it outright instead of not finding it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _positive_int(name: str, value: Any, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"mmdet adapter: {name} must be a positive integer, not {value!r}")
    return value


def _positive_float(name: str, value: Any, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"mmdet adapter: {name} must be a positive number, not {value!r}")
    return float(value)


class MMDetFitnessAdapter(FitnessAdapter):
    """Fitness = bbox mAP (COCO metric, 0..1) of an mmdet detector trained with the candidate loss.

    Args:
        space: the searched branch: the detector's classification space or ``iou_reg``.
        detector: ``fcos_tiny``, ``faster_rcnn_tiny``, ``fcos_r50`` or ``faster_rcnn_r50``.
        data_root: dataset directory; the paths below are relative to it (or absolute).
        train_ann, train_images, val_ann, val_images: COCO annotation files and image directories
            (defaults: the synthetic layout ``annotations/{train,val}.json``, ``{train,val}/``).
        generate_data: generate the synthetic dataset at ``data_root`` when it is missing.
        epochs: proxy-task training epochs; ``verify_epochs``: epochs on D_verify.
        proxy_images: size of the proxy training subset (``None``: the whole train split).
        val_limit: test on this many random val images (``None``: all).
        data_seed: seed of D_verify and the subsets.
        time_limit: seconds per proxy evaluation; ``verify_time_limit`` per verify (default: time_limit).
        device: ``cpu`` or ``cuda``; ``threads``: torch CPU threads per evaluation (default 1; ``None``: torch decides).
        batch_size, lr: overrides of the detector config.
        other_loss: formula or known loss name for the non-searched branch (default: the config's loss).
        config: another mmengine config file for the detector (same head layout).
        cfg_options: ``{"dotted.key": value}`` config overrides.
        nproc: training processes per evaluation (default 1): with ``device=cuda``, mmdet's distributed
            training of one candidate on ``nproc`` GPUs (torchrun, NCCL); on CPU, ``nproc`` gloo ranks.
        pretrained: ``default`` (the tiny detectors' shipped backbone + neck pretrained on synthetic shapes that
            no split uses; see :mod:`detectors_adapter.pretrain`), ``none`` (from scratch) or a state-dict file.
        keep_work_dirs: keep each evaluation's work directory (logs) for debugging.
        work_root: where temporary directories go (default: the system's).
    """

    name: ClassVar[str] = "mmdet"
    spaces: ClassVar[tuple[str, ...]] = ("softmax_cls", "sigmoid_cls", "iou_reg")

    def __init__(self, space: str, detector: str = "fcos_tiny", data_root: str | Path = DEFAULT_DATA_ROOT,
                 train_ann: str = "annotations/train.json", train_images: str = "train",
                 val_ann: str = "annotations/val.json", val_images: str = "val", generate_data: bool = False,
                 epochs: int = 4, verify_epochs: int = 64, proxy_images: int | None = None,
                 val_limit: int | None = None, data_seed: int = 0, time_limit: float = 900.0,
                 verify_time_limit: float | None = None, device: str = "cpu", threads: int | None = 1,
                 batch_size: int | None = None, lr: float | None = None, other_loss: str | None = None,
                 config: str | None = None, cfg_options: dict[str, Any] | None = None,
                 nproc: int = 1, keep_work_dirs: bool = False, work_root: str | None = None,
                 pretrained: str | None = "default", **unknown: Any) -> None:
        if unknown:
            raise ConfigError(f"mmdet adapter: unknown option(s) {', '.join(sorted(unknown))}")
        super().__init__(space, detector=detector, data_root=str(data_root), train_ann=train_ann,
                         train_images=train_images, val_ann=val_ann, val_images=val_images, epochs=epochs,
                         verify_epochs=verify_epochs, proxy_images=proxy_images, val_limit=val_limit,
                         data_seed=data_seed, time_limit=time_limit, verify_time_limit=verify_time_limit,
                         device=device, threads=threads, batch_size=batch_size, lr=lr, other_loss=other_loss,
                         config=config, cfg_options=dict(cfg_options or {}), nproc=nproc, pretrained=pretrained)
        self.detector = get_detector(detector)
        self.detector.branch(self.space.name)  # ConfigError when the detector has no such branch
        self.epochs = _positive_int("epochs", epochs)
        self.verify_epochs = _positive_int("verify_epochs", verify_epochs)
        self.proxy_images = _positive_int("proxy_images", proxy_images, allow_none=True)
        self.val_limit = _positive_int("val_limit", val_limit, allow_none=True)
        self.time_limit = _positive_float("time_limit", time_limit)
        self.verify_time_limit = _positive_float("verify_time_limit", verify_time_limit, allow_none=True)
        self.threads = _positive_int("threads", threads, allow_none=True)
        self.batch_size = _positive_int("batch_size", batch_size, allow_none=True)
        self.nproc = _positive_int("nproc", nproc)
        self.lr = _positive_float("lr", lr, allow_none=True)
        if not isinstance(data_seed, int) or isinstance(data_seed, bool):
            raise ConfigError(f"mmdet adapter: data_seed must be an integer, not {data_seed!r}")
        if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
            raise ConfigError(f"mmdet adapter: device must be 'cpu' or 'cuda', not {device!r}")
        if str(device).startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError("mmdet adapter: device 'cuda' asked for, but torch sees no GPU")
            if self.nproc > torch.cuda.device_count():
                raise ConfigError(f"mmdet adapter: nproc={self.nproc} GPUs asked for, torch sees "
                                  f"{torch.cuda.device_count()}")
        self.device = device
        self.config = self._config_path(config)
        self.pretrained, self.pretrained_prefixes = resolve_pretrained(self.detector.name, pretrained)
        if cfg_options is not None and not isinstance(cfg_options, dict):
            raise ConfigError("mmdet adapter: cfg_options must be a mapping of dotted keys to values")
        self.cfg_options = dict(cfg_options or {})
        self.other_formula = self._other_formula(other_loss)
        missing = [m for m in ("mmdet", "mmcv", "mmengine", "pycocotools") if not _installed(m)]
        if missing:
            raise ConfigError(f"the mmdet adapter needs {', '.join(missing)}: run `make setup` "
                              "(pip install -e '.[mmdet]' after building mmcv)")

        root = Path(data_root)
        paths = {k: Path(v) if Path(v).is_absolute() else root / v
                 for k, v in (("train_ann", train_ann), ("train_images", train_images), ("val_ann", val_ann),
                              ("val_images", val_images))}
        if generate_data and not (paths["train_ann"].is_file() and paths["val_ann"].is_file()):
            ensure_dataset(root)
        train = validate_coco(paths["train_ann"], paths["train_images"])
        val = validate_coco(paths["val_ann"], paths["val_images"])
        self.classes = list(category_names(train))
        if list(category_names(val)) != self.classes:
            raise ConfigError(f"train and val annotations list different categories ({paths['train_ann']}, "
                              f"{paths['val_ann']})")
        self.train_images = str(paths["train_images"].resolve())
        self.val_images = str(paths["val_images"].resolve())

        self.keep_work_dirs = bool(keep_work_dirs)
        try:
            self._tmp = Path(tempfile.mkdtemp(prefix="gp-autoloss-mmdet-", dir=work_root))
        except OSError as exc:
            raise ConfigError(f"mmdet adapter: cannot create a work directory in {work_root}: {exc}") from None
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self._tmp), True)
        if keep_work_dirs:
            self._cleanup.detach()
        self.verify_ann = str(build_verify_set(paths["train_ann"], self._tmp / "d_verify.json", seed=data_seed))
        self.proxy_ann = str(sample_subset(paths["train_ann"], self._tmp / "proxy_train.json", self.proxy_images,
                                           seed=data_seed))
        self.val_ann = str(sample_subset(paths["val_ann"], self._tmp / "val.json", self.val_limit, seed=data_seed))
        self.sizes = {name: len(json.loads(Path(p).read_text(encoding="utf-8"))["images"])
                      for name, p in (("verify", self.verify_ann), ("proxy", self.proxy_ann), ("val", self.val_ann))}
        #: details of the latest evaluation (metrics, iterations, times, or the failure)
        self.last_result: dict[str, Any] = {}

    # ---- option helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _config_path(config: str | None) -> str | None:
        if config is None:
            return None
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"mmdet adapter: config file not found: {config}")
        return str(path.resolve())

    def _other_formula(self, other_loss: str | None) -> str | None:
        if other_loss is None:
            return None
        from gp_autoloss.known import KNOWN_LOSSES

        other = self.detector.other_space(self.space.name)
        text = other_loss
        if other_loss in KNOWN_LOSSES:
            known = KNOWN_LOSSES.get(other_loss)
            if known.space != other:
                raise ConfigError(f"mmdet adapter: other_loss {other_loss!r} is a {known.space} loss; "
                                  f"the other branch of {self.detector.name} needs a {other} loss")
            text = known.formula
        try:
            return parse(text, other).to_prefix()
        except GpAutolossError as exc:
            raise ConfigError(f"mmdet adapter: other_loss {other_loss!r} is not a {other} loss: {exc}") from None

    # ---- FitnessAdapter -------------------------------------------------------------------------------------
    def verify(self, loss: Loss, seed: int) -> float:
        """Train and test on D_verify; returns its bbox mAP."""
        return self._score(loss, seed, "verify")

    def proxy(self, loss: Loss, seed: int) -> float:
        """Train on the proxy split for ``epochs``, test on val; returns the val bbox mAP."""
        return self._score(loss, seed, "proxy")

    def _score(self, loss: Loss, seed: int, stage: str) -> float:
        if loss.space.name != self.space.name:
            raise ConfigError(f"mmdet adapter scores {self.space.name} losses, got a {loss.space.name} loss")
        return float(self.train(loss.to_prefix(), seed, stage)["metric"])

    def train(self, formula: str | None, seed: int, stage: str = "proxy", *, other_formula: Any = _ADAPTER,
              cfg_options: dict[str, Any] | None = None, curves: bool = False,
              trace_batches: bool = False) -> dict[str, Any]:  # fmt: skip
        """Train and test the detector once, isolated; returns the run's result (``metric`` = bbox mAP).

        ``formula`` (DEAP prefix of the adapter's space) goes into the searched branch, ``None`` keeps the
        config's loss there; ``other_formula`` likewise for the other branch (default: the adapter's
        ``other_loss``). ``cfg_options`` are merged after the adapter's own (e.g. a native mmdet loss:
        ``{"model.bbox_head.loss_bbox": {"_delete_": True, "type": "DIoULoss"}}``). ``stage`` ``"verify"``
        trains and tests on D_verify, ``"proxy"`` on the proxy and val splits. ``curves`` adds per-iteration
        training losses and per-epoch val metrics (``result["curves"]``); ``trace_batches`` the image ids and flips
        of every training batch (``result["batches"]``). Raises
        :class:`~gp_autoloss.fitness.CandidateFailed` when training diverges, crashes or runs out of time.
        """
        if stage == "verify":  # D_verify: a handful of images, one long epoch of verify_epochs passes
            data = (self.verify_ann, self.train_images, self.verify_ann, self.train_images)
            epochs, time_limit, repeat = 1, self.verify_time_limit or self.time_limit, self.verify_epochs
        elif stage == "proxy":
            data = (self.proxy_ann, self.train_images, self.val_ann, self.val_images)
            epochs, time_limit, repeat = self.epochs, self.time_limit, 1
        else:
            raise ConfigError(f"mmdet adapter: stage must be 'verify' or 'proxy', not {stage!r}")
        work = Path(tempfile.mkdtemp(prefix=f"{stage}-", dir=self._tmp))
        spec = TrainSpec(
            detector=self.detector.name, space=self.space.name, formula=formula,
            other_formula=self.other_formula if other_formula is _ADAPTER else other_formula,
            train_ann=data[0], train_images=data[1], test_ann=data[2], test_images=data[3], classes=self.classes,
            epochs=epochs, work_dir=str(work), result=str(work / "result.json"), seed=int(seed), device=self.device,
            threads=self.threads, batch_size=self.batch_size, lr=self.lr, config=self.config,
            cfg_options={**self.cfg_options, **(cfg_options or {})},
            train_size=self.sizes[stage], repeat=repeat, nproc=self.nproc, curves=curves,
            pretrained=self.pretrained, pretrained_prefixes=self.pretrained_prefixes,
            trace_batches=trace_batches)  # fmt: skip
        try:
            result = self._run(spec, work, time_limit)
        finally:
            if not self.keep_work_dirs:
                shutil.rmtree(work, ignore_errors=True)
        self.last_result = {"stage": stage, **result}
        return result

    def describe(self) -> dict[str, Any]:
        """Settings to store with a run, with the dataset sizes."""
        return {**super().describe(), "classes": self.classes, "sizes": self.sizes}

    def close(self) -> None:
        """Remove the adapter's temporary directory (kept with ``keep_work_dirs``)."""
        if not self.keep_work_dirs:
            self._cleanup()

    # ---- isolation ------------------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
        env["GP_AUTOLOSS_PARENT_PID"] = str(os.getpid())
        env.setdefault("PYTHONWARNINGS", "ignore")
        if self.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        if self.threads:
            env["OMP_NUM_THREADS"] = str(self.threads)
        return env

    def _run(self, spec: TrainSpec, work: Path, time_limit: float) -> dict[str, Any]:
        spec_path = spec.dump(work / "spec.json")
        log_path = work / "train.log"
        cmd = [sys.executable, "-m", "detectors_adapter.train_one", str(spec_path)]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=work, env=self._env(), start_new_session=True)
            try:
                code = proc.wait(timeout=time_limit)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise CandidateFailed(f"time limit of {time_limit:g} s exceeded") from None
            except BaseException:
                _kill_group(proc)
                raise
        result_path = Path(spec.result)
        result: dict[str, Any] = {}
        if result_path.is_file():
            try:
                result = json.loads(result_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                result = {}
        status = result.get("status")
        if status == "ok" and code == 0:
            return result
        if status == "config_error":
            raise ConfigError(str(result.get("reason", "bad configuration")))
        if status == "failed":
            raise CandidateFailed(str(result.get("reason", "training failed")))
        raise CandidateFailed(f"training process exited with code {code}: {_last_line(log_path)}")


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the evaluation process and everything it started (its own session/process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _last_line(log_path: Path) -> str:
    try:
        data = log_path.read_bytes()[-_LOG_TAIL:].decode("utf-8", "replace")
    except OSError:
        return "no log"
    lines = [ln.strip() for ln in data.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output (killed?)"
