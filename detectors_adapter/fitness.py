"""``MMDetFitnessAdapter``: score a candidate loss by the bbox mAP of a real MMDetection detector.

* ``verify(loss, seed)`` -- the paper's model-optimization simulation: train on D_verify (one image per
  category of the training split, built once per adapter from ``data_seed``) and test on the same images;
* ``proxy(loss, seed)`` -- train for ``epochs`` on the proxy split (``proxy_images`` random training images,
  all by default) and test on the val split (``val_limit`` random val images, all by default);
* ``proxy_budget(loss, seed, budget, state)`` -- a rung of successive halving: train the first
  ``max(1, ceil(budget * epochs))`` epochs of the proxy's schedule (its learning-rate schedule stays the whole
  ``epochs``'), continuing from the longest train state saved in the folder ``state``, save the state there, test
  on val as ``proxy`` does (:class:`~detectors_adapter.models.hooks.ProxyBudgetHook`).

The searched branch (the adapter's space) gets ``GPLoss(candidate)``; the other branch keeps the detector's
fixed loss (Faster R-CNN: CE / GIoU x10, FCOS: focal / GIoU) unless ``other_loss`` names a formula for it.
Settings: :class:`~detectors_adapter.options.MMDetOptions`, read as ``self.opts``.
Every evaluation runs isolated: its own temporary work directory, a process of its own
(``python -m detectors_adapter.train_one``, on CPU forked from a server with mmdet imported:
:mod:`detectors_adapter.launch`) killed with its process group after ``time_limit`` seconds (in a
search: at most, and by default, the search's ``--time-limit``, which the executor enforces),
stopped at the first NaN/inf loss, no checkpoints (a budget's train state goes to its state folder), and the
directory removed afterwards.
A candidate that diverges, crashes training or runs out of time raises
:class:`~gp_autoloss.fitness.CandidateFailed`; bad settings raise a one-line :class:`ConfigError`.
The parent process never imports mmdet.

>>> adapter = MMDetFitnessAdapter("sigmoid_cls", detector="fcos_tiny", data_root="data/shapes_v2",
...                               generate_data=True, epochs=3)                     # doctest: +SKIP
>>> adapter.proxy(gp_autoloss.known_loss("fli"), seed=0)                            # doctest: +SKIP
0.11...
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import re
import shutil
import tempfile
import weakref
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

from detectors_adapter.data.coco import build_verify_set, category_names, sample_subset, validate_coco
from detectors_adapter.data.synthetic import DEFAULT_DATA_ROOT, ensure_dataset
from detectors_adapter.detectors import DETECTORS, get_detector
from detectors_adapter.launch import TrainingTimeout, fork_server_run, subprocess_run
from detectors_adapter.options import MMDetOptions
from detectors_adapter.pretrained_weights import fine_tuning, resolve_pretrained
from detectors_adapter.spec import TrainSpec
from gp_autoloss.errors import ConfigError, GpAutolossError
from gp_autoloss.fitness.base import CandidateFailed, FitnessAdapter
from gp_autoloss.loss import Loss, parse
from gp_autoloss.options import DEFAULT_TIME_LIMIT

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


class MMDetFitnessAdapter(FitnessAdapter):
    """Fitness = bbox mAP (COCO metric, 0..1) of an mmdet detector trained with the candidate loss.

    Args:
        space: the searched branch: the detector's classification space or ``iou_reg``.
        **options: the fields of :class:`~detectors_adapter.options.MMDetOptions` (``detector``, ``data_root``,
            ``epochs``, ``time_limit``, ...; ``gp-autoloss search --adapter mmdet --help`` lists them), checked
            by the base class and read as ``self.opts``.
    """

    name: ClassVar[str] = "mmdet"
    spaces: ClassVar[tuple[str, ...]] = ("softmax_cls", "sigmoid_cls", "iou_reg")
    options_class = MMDetOptions
    supports_budget: ClassVar[bool] = True
    opts: MMDetOptions

    def __init__(self, space: str, **options: Any) -> None:
        super().__init__(space, **options)
        o = self.opts
        self.detector = get_detector(o.detector)
        self.detector.branch(self.space.name)  # ConfigError when the detector has no such branch
        if o.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError("mmdet adapter: device 'cuda' asked for, but torch sees no GPU")
            if o.nproc > torch.cuda.device_count():
                raise ConfigError(f"mmdet adapter: nproc={o.nproc} GPUs asked for, torch sees "
                                  f"{torch.cuda.device_count()}")
        #: the absolute path of ``config``, if given
        self.config = self._config_path(o.config)
        self.pretrained, self.pretrained_prefixes = resolve_pretrained(self.detector.name, o.pretrained)
        #: how training fine-tunes from the pretrained start (frozen stages, head learning rate)
        self.tuning = fine_tuning(self.detector.name, o.pretrained)
        #: the detector's defaults where the options leave them open (``None``)
        self.epochs = o.epochs if o.epochs is not None else self.detector.proxy_epochs
        self.verify_epochs = o.verify_epochs if o.verify_epochs is not None else self.detector.verify_epochs
        self.proxy_images = o.proxy_images if o.proxy_images is not None else self.detector.proxy_images
        self.other_formula = self._other_formula(o.other_loss)
        missing = [m for m in ("mmdet", "mmcv", "mmengine", "pycocotools") if not _installed(m)]
        if missing:
            raise ConfigError(f"the mmdet adapter needs {', '.join(missing)}: run `make setup` "
                              "(pip install -e '.[mmdet]' after building mmcv)")

        root = Path(o.data_root)
        paths = {k: Path(v) if Path(v).is_absolute() else root / v
                 for k, v in (("train_ann", o.train_ann), ("train_images", o.train_images), ("val_ann", o.val_ann),
                              ("val_images", o.val_images))}
        if o.generate_data and not (paths["train_ann"].is_file() and paths["val_ann"].is_file()):
            ensure_dataset(root)
        train = validate_coco(paths["train_ann"], paths["train_images"])
        val = validate_coco(paths["val_ann"], paths["val_images"])
        self.classes = list(category_names(train))
        if list(category_names(val)) != self.classes:
            raise ConfigError(f"train and val annotations list different categories ({paths['train_ann']}, "
                              f"{paths['val_ann']})")
        self.train_images = str(paths["train_images"].resolve())
        self.val_images = str(paths["val_images"].resolve())

        try:
            self._tmp = Path(tempfile.mkdtemp(prefix="gp-autoloss-mmdet-", dir=o.work_root))
        except OSError as exc:
            raise ConfigError(f"mmdet adapter: cannot create a work directory in {o.work_root}: {exc}") from None
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self._tmp), True)
        if o.keep_work_dirs:
            self._cleanup.detach()
        self.verify_ann = str(build_verify_set(paths["train_ann"], self._tmp / "d_verify.json", seed=o.data_seed))
        self.proxy_ann = str(sample_subset(paths["train_ann"], self._tmp / "proxy_train.json", self.proxy_images,
                                           seed=o.data_seed))
        self.val_ann = str(sample_subset(paths["val_ann"], self._tmp / "val.json", o.val_limit, seed=o.data_seed))
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

    def proxy_budget(self, loss: Loss, seed: int, budget: Fraction, state: str | None) -> float:
        """Train the epochs ``[start, stop)`` of the proxy's schedule, ``stop = max(1, ceil(budget * epochs))``,
        then test on val as :meth:`proxy` does; returns the val bbox mAP.

        ``start`` is the epoch of the longest train state up to ``stop`` saved in the folder ``state`` (0 when there
        is none, or none loads: a damaged state is trained again); the state after ``stop`` is saved there. The
        schedulers keep the whole ``epochs``: budgets 1/9, 1/3 then 1 train the epochs of one :meth:`proxy` run.
        Budget 1 without a folder is :meth:`proxy`."""
        frac = Fraction(budget)
        if not 0 < frac <= 1:
            raise ConfigError(f"mmdet adapter: a budget is a fraction in (0, 1], not {budget}")
        stop = max(1, math.ceil(frac * self.epochs))
        if state is None:
            if stop >= self.epochs:
                return self.proxy(loss, seed)
            return self._score(loss, seed, "proxy", stop_epoch=stop)
        # absolute: the training process runs in its own work directory, where a relative folder is another one
        folder = Path(state).absolute()
        folder.mkdir(parents=True, exist_ok=True)
        saved = self.state_files(folder, seed)
        states = [str(saved[e]) for e in sorted(saved, reverse=True) if e <= stop]
        return self._score(loss, seed, "proxy", stop_epoch=stop, states_in=states,
                           state_out=str(folder / f"{self._state_prefix(seed)}{stop}.pt"))  # fmt: skip

    def state_files(self, folder: str | Path, seed: int) -> dict[int, Path]:
        """The train states of ``seed`` (and of this adapter's options) in ``folder``, by epoch."""
        folder = Path(folder)
        pattern = re.compile(re.escape(self._state_prefix(seed)) + r"(\d+)\.pt")
        found = (pattern.fullmatch(f.name) for f in folder.iterdir()) if folder.is_dir() else ()
        return {int(m.group(1)): folder / m.group(0) for m in found if m}

    def _state_prefix(self, seed: int) -> str:
        """File names of train states: the space, a digest of the options, the seed, then ``<epoch>.pt``."""
        digest = hashlib.sha256(json.dumps(self.options, sort_keys=True, default=str).encode()).hexdigest()[:12]
        return f"mmdet-{self.space.name}-{digest}-seed{int(seed)}-epoch"

    def _score(self, loss: Loss, seed: int, stage: str, **budget: Any) -> float:
        if loss.space.name != self.space.name:
            raise ConfigError(f"mmdet adapter scores {self.space.name} losses, got a {loss.space.name} loss")
        return float(self.train(loss.to_prefix(), seed, stage, **budget)["metric"])

    def train(self, formula: str | None, seed: int, stage: str = "proxy", *, other_formula: Any = _ADAPTER,
              cfg_options: dict[str, Any] | None = None, curves: bool = False,
              trace_batches: bool = False, stop_epoch: int | None = None, states_in: list[str] | None = None,
              state_out: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Train and test the detector once, isolated; returns the run's result (``metric`` = bbox mAP).

        ``formula`` (DEAP prefix of the adapter's space) goes into the searched branch, ``None`` keeps the
        config's loss there; ``other_formula`` likewise for the other branch (default: the adapter's
        ``other_loss``). ``cfg_options`` are merged after the adapter's own (e.g. a native mmdet loss:
        ``{"model.bbox_head.loss_bbox": {"_delete_": True, "type": "DIoULoss"}}``). ``stage`` ``"verify"``
        trains and tests on D_verify, ``"proxy"`` on the proxy and val splits. ``curves`` adds per-iteration
        training losses and per-epoch val metrics (``result["curves"]``); ``trace_batches`` the image ids and flips
        of every training batch (``result["batches"]``). ``stop_epoch``, ``states_in``, ``state_out`` (stage
        ``"proxy"``): a budget, see :class:`~detectors_adapter.spec.TrainSpec` (``result["budget"]`` says which
        state was continued and which saved). Raises
        :class:`~gp_autoloss.fitness.CandidateFailed` when training diverges, crashes or runs out of time.
        """
        o = self.opts
        proxy_limit = DEFAULT_TIME_LIMIT if o.time_limit is None else o.time_limit
        if stage == "verify":  # D_verify: a handful of images, one long epoch of verify_epochs passes
            data = (self.verify_ann, self.train_images, self.verify_ann, self.train_images)
            epochs, repeat = 1, self.verify_epochs
            time_limit = proxy_limit if o.verify_time_limit is None else o.verify_time_limit
        elif stage == "proxy":
            data = (self.proxy_ann, self.train_images, self.val_ann, self.val_images)
            epochs, time_limit, repeat = self.epochs, proxy_limit, 1
        else:
            raise ConfigError(f"mmdet adapter: stage must be 'verify' or 'proxy', not {stage!r}")
        if stage != "proxy" and (stop_epoch is not None or states_in or state_out):
            raise ConfigError("mmdet adapter: budgets (stop_epoch, states_in, state_out) are for the proxy stage")
        work = Path(tempfile.mkdtemp(prefix=f"{stage}-", dir=self._tmp))
        spec = TrainSpec(
            detector=self.detector.name, space=self.space.name, formula=formula,
            other_formula=self.other_formula if other_formula is _ADAPTER else other_formula,
            train_ann=data[0], train_images=data[1], test_ann=data[2], test_images=data[3], classes=self.classes,
            epochs=epochs, work_dir=str(work), result=str(work / "result.json"), seed=int(seed), device=o.device,
            threads=o.threads, batch_size=o.batch_size, lr=o.lr if o.lr is not None else self.tuning.lr,
            config=self.config, frozen_stages=self.tuning.frozen_stages,
            cfg_options={**(o.cfg_options or {}), **(cfg_options or {})},
            train_size=self.sizes[stage], repeat=repeat, nproc=o.nproc, curves=curves,
            pretrained=self.pretrained, pretrained_prefixes=self.pretrained_prefixes,
            trace_batches=trace_batches, stop_epoch=stop_epoch, states_in=list(states_in or []),
            state_out=state_out,
            frozen_cache=str(self._tmp / "frozen_features") if o.frozen_cache else None)  # fmt: skip
        try:
            result = self._run(spec, work, time_limit)
        finally:
            if not o.keep_work_dirs:
                shutil.rmtree(work, ignore_errors=True)
        self.last_result = {"stage": stage, **result}
        return result

    def describe(self) -> dict[str, Any]:
        """Settings to store with a run, with the dataset sizes."""
        return {**super().describe(), "classes": self.classes, "sizes": self.sizes}

    def close(self) -> None:
        """Remove the adapter's temporary directory (kept with ``keep_work_dirs``)."""
        if not self.opts.keep_work_dirs:
            self._cleanup()

    # ---- isolation ------------------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
        env["GP_AUTOLOSS_PARENT_PID"] = str(os.getpid())
        env.setdefault("PYTHONWARNINGS", "ignore")
        if self.opts.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        if self.opts.threads:
            env["OMP_NUM_THREADS"] = str(self.opts.threads)
        return env

    def _run(self, spec: TrainSpec, work: Path, time_limit: float) -> dict[str, Any]:
        spec_path = spec.dump(work / "spec.json")
        log_path = work / "train.log"
        run = fork_server_run if self.opts.fork_server and self.opts.device == "cpu" else subprocess_run
        try:
            code = run(spec_path, log_path, work, self._env(), time_limit)
        except TrainingTimeout as exc:
            raise CandidateFailed(str(exc)) from None
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


def _last_line(log_path: Path) -> str:
    try:
        data = log_path.read_bytes()[-_LOG_TAIL:].decode("utf-8", "replace")
    except OSError:
        return "no log"
    lines = [ln.strip() for ln in data.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output (killed?)"
