"""The tiny detectors' pretrained start and common random numbers between candidates (issue: a proxy that
tells losses apart)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("mmdet")

import torch  # noqa: E402

from detectors_adapter.fitness import MMDetFitnessAdapter  # noqa: E402
from detectors_adapter.pretrained_weights import (  # noqa: E402
    CHECKPOINT_DIR,
    MANIFEST,
    PRETRAINED,
    resolve_pretrained,
)
from gp_autoloss import known_loss  # noqa: E402
from gp_autoloss.errors import ConfigError  # noqa: E402
from tests.conftest import run_cli  # noqa: E402

pytestmark = pytest.mark.mmdet


def _model(detector: str) -> torch.nn.Module:
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    import detectors_adapter.models  # noqa: F401  (registers the heads)
    from detectors_adapter.detectors import get_detector

    register_all_modules()
    cfg = Config.fromfile(str(get_detector(detector).config_path))
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


@pytest.mark.parametrize("detector", sorted(PRETRAINED))
def test_shipped_checkpoint_loads_into_the_tiny_detector(detector: str) -> None:
    """Every backbone and neck tensor of both tiny detectors (they share FCOS's FPN) is in the shipped
    checkpoint and loads (none missing); the heads are not in it."""
    from detectors_adapter.models.pretrained import load_pretrained

    path, prefixes = resolve_pretrained(detector, "default")
    assert path is not None and "backbone." in prefixes
    assert "neck." in prefixes
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = _model(detector)
    before = model.state_dict()
    backbone = [k for k in before if k.startswith("backbone.")]
    assert backbone and all(k in state for k in backbone), "a backbone tensor is missing from the checkpoint"
    wanted = [k for k in before if k.startswith(tuple(prefixes))]
    summary = load_pretrained(model, path, tuple(prefixes))
    assert summary == {"loaded": len(wanted), "required": len(wanted)}
    after = model.state_dict()
    for key in wanted:  # every loaded tensor now holds the checkpoint's values
        assert torch.equal(after[key], state[key]), key
    heads = [k for k in after if not k.startswith(tuple(prefixes)) and k.endswith("weight")]
    assert heads and all(k not in state for k in heads if k.startswith(("bbox_head.", "roi_head.")))


def test_a_checkpoint_without_the_required_tensors_is_a_config_error(tmp_path: Path) -> None:
    from detectors_adapter.models.pretrained import load_pretrained

    path, _ = resolve_pretrained("fcos_tiny", "default")
    state = torch.load(path, map_location="cpu", weights_only=True)
    partial = tmp_path / "partial.pth"
    torch.save({k: v for k, v in state.items() if not k.startswith("backbone.layer4")}, str(partial))
    with pytest.raises(ConfigError, match="lacks .* backbone tensors"):
        load_pretrained(_model("fcos_tiny"), partial, ("backbone.",))
    key = next(k for k in state if k.startswith("neck.") and k.endswith("conv.weight"))
    reshaped = tmp_path / "reshaped.pth"
    torch.save({**state, key: torch.zeros(3, *state[key].shape[1:])}, str(reshaped))
    with pytest.raises(ConfigError, match="has shape"):
        load_pretrained(_model("faster_rcnn_tiny"), reshaped, ("backbone.", "neck."))


@pytest.mark.parametrize("detector", sorted(PRETRAINED))
def test_the_pretrained_start_freezes_the_first_stages_and_from_scratch_trains_all(detector: str) -> None:
    """The default start fine-tunes (stem and stages 1-2 frozen, head at its learning rate); ``none`` and a
    user's checkpoint keep the config's settings, so a random backbone is never frozen."""
    from mmdet.registry import MODELS

    from detectors_adapter.build_config import build_config
    from detectors_adapter.pretrained_weights import fine_tuning
    from detectors_adapter.spec import TrainSpec

    tuning = fine_tuning(detector, "default")
    assert tuning.frozen_stages == 2 and tuning.lr is not None
    assert fine_tuning(detector, "none").frozen_stages is None and fine_tuning(detector, "w.pth").lr is None
    spec = {"detector": detector, "space": "iou_reg", "formula": None, "train_ann": "a.json", "train_images": "a",
            "test_ann": "b.json", "test_images": "b", "classes": ["x"], "epochs": 1, "work_dir": ".", "result": "r"}
    tuned = build_config(TrainSpec(**spec, frozen_stages=tuning.frozen_stages, lr=tuning.lr))
    plain = build_config(TrainSpec(**spec))
    assert tuned.optim_wrapper.optimizer.lr == tuning.lr != plain.optim_wrapper.optimizer.lr
    frozen = {n for n, p in MODELS.build(tuned.model).named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith(("backbone.conv1", "backbone.bn1", "backbone.layer1.", "backbone.layer2."))
                          for n in frozen)
    assert any(n.startswith("backbone.layer2.") for n in frozen)
    assert all(p.requires_grad for p in MODELS.build(plain.model).parameters())


def test_altered_or_missing_shipped_checkpoint_is_a_config_error(tmp_path: Path) -> None:
    shutil.copy(MANIFEST, tmp_path / MANIFEST.name)
    start = PRETRAINED["fcos_tiny"]
    with pytest.raises(ConfigError, match="is missing; rebuild it"):
        resolve_pretrained("fcos_tiny", "default", tmp_path)
    data = (CHECKPOINT_DIR / start.file).read_bytes()
    (tmp_path / start.file).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ConfigError, match="does not match its checksum") as info:
        resolve_pretrained("fcos_tiny", "default", tmp_path)
    assert "\n" not in str(info.value)
    (tmp_path / start.file).write_bytes(data)
    assert resolve_pretrained("fcos_tiny", "default", tmp_path)[0] == str(tmp_path / start.file)


@pytest.mark.parametrize(("content", "message"), [
    (None, "pretrained checkpoint not found"),
    (b"not a checkpoint", "cannot read pretrained checkpoint"),
    ({"head.weight": torch.zeros(2)}, "holds no backbone"),
    ({"backbone.x": 3}, "cannot read pretrained checkpoint|not a state dict of tensors"),
])  # fmt: skip
def test_bad_user_checkpoint_is_one_line_and_exit_2(tmp_path: Path, tiny_data: Path, content: object,
                                                    message: str) -> None:
    path = tmp_path / "weights.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, str(path))
    with pytest.raises(ConfigError, match=message):
        MMDetFitnessAdapter("sigmoid_cls", data_root=str(tiny_data), pretrained=str(path))
    out = tmp_path / "run"
    proc = run_cli("search", "--space", "sigmoid_cls", "--adapter", "mmdet", "--adapter-option",
                   f"data_root={tiny_data}", "--adapter-option", f"pretrained={path}", "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not out.exists()


def test_candidates_under_one_seed_see_identical_batches(tiny_data: Path) -> None:
    """Common random numbers: the same evaluation seed gives two losses the same images, order and flips
    (and the same pretrained start); another seed gives another order."""
    adapter = MMDetFitnessAdapter("sigmoid_cls", data_root=str(tiny_data), epochs=2, batch_size=4)
    try:
        assert adapter.pretrained is not None
        runs = [adapter.train(known_loss(name).to_prefix(), seed, "proxy", trace_batches=True)
                for name, seed in (("fl", 5), ("bce", 5), ("fl", 6))]
    finally:
        adapter.close()
    fl, bce, other_seed = (r["batches"] for r in runs)
    assert len(fl) == 2 * 4 and all(len(b) == 4 for b in fl)  # 16 images, batches of 4, 2 epochs
    assert fl == bce
    assert fl != other_seed
    assert sorted(i for b in fl[:4] for i, _, _ in b) == list(range(1, 17))  # one epoch = every image once
    assert any(flip for b in fl for _, flip, _ in b) and not all(flip for b in fl for _, flip, _ in b)
    assert runs[0]["metric"] != runs[1]["metric"] or runs[0]["last_loss"] != runs[1]["last_loss"]
