"""FrozenCacheResNet: a pretrained ResNet's frozen part computed once per image and read back from a cache."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("mmdet")

import torch  # noqa: E402

from detectors_adapter.fitness import MMDetFitnessAdapter  # noqa: E402
from detectors_adapter.pretrained_weights import read_state_dict  # noqa: E402
from gp_autoloss import known_loss  # noqa: E402

pytestmark = pytest.mark.mmdet
REPO = Path(__file__).resolve().parent.parent
WEIGHTS = REPO / "detectors_adapter/checkpoints/fcos_tiny_shapes.pth"
RESNET = dict(depth=18, base_channels=16, num_stages=4, out_indices=(0, 1, 2, 3), frozen_stages=2, norm_eval=False)


def _backbone(cls_name: str, **kw: object) -> torch.nn.Module:
    from mmdet.models.backbones import ResNet

    from detectors_adapter.models import FrozenCacheResNet

    cls = FrozenCacheResNet if cls_name == "cached" else ResNet
    model = cls(**{**RESNET, **kw})
    state = read_state_dict(WEIGHTS)
    model.load_state_dict({k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")})
    model.train()
    return model


@pytest.fixture()
def images() -> torch.Tensor:
    return torch.randn(6, 3, 128, 128, generator=torch.Generator().manual_seed(0)) * 2.0


def test_outputs_are_the_plain_resnet_one_image_at_a_time(images: torch.Tensor, tmp_path: Path) -> None:
    plain, cached = _backbone("plain"), _backbone("cached", cache_dir=str(tmp_path))
    got = cached(images)
    one_by_one = [plain(images[i : i + 1]) for i in range(len(images))]
    for level in (0, 1):  # the frozen stages (the trainable ones normalise over the batch)
        assert got[level].grad_fn is None
        assert torch.equal(got[level], torch.cat([o[level] for o in one_by_one]).detach())
    batched = plain(images)  # the plain batch differs only by float rounding
    for a, b in zip(got, batched):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert (cached.misses, cached.hits) == (len(images), 0)
    assert len(list(tmp_path.glob("*.pt"))) == len(images)


def test_a_second_process_reads_the_folder_and_gets_the_same_values(images: torch.Tensor, tmp_path: Path) -> None:
    first = _backbone("cached", cache_dir=str(tmp_path))
    cold = first(images)
    warm = first(images)  # memory
    second = _backbone("cached", cache_dir=str(tmp_path))
    read = second(images)  # disk
    assert (first.hits, first.misses, second.hits, second.misses) == (6, 6, 6, 0)
    for a, b, c in zip(cold, warm, read):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_trainable_stages_still_learn_and_the_frozen_ones_do_not(images: torch.Tensor, tmp_path: Path) -> None:
    cached = _backbone("cached", cache_dir=str(tmp_path))
    for _ in range(2):  # cold, then warm
        cached.zero_grad()
        sum(o.sum() for o in cached(images)).backward()
        assert cached.layer3[0].conv1.weight.grad is not None and cached.layer4[0].conv1.weight.grad.abs().sum() > 0
        assert cached.layer2[0].conv1.weight.grad is None and cached.conv1.weight.grad is None
    assert not cached.layer1[0].bn1.training  # frozen batch norm stays in eval mode


def test_damaged_entries_are_computed_again(images: torch.Tensor, tmp_path: Path) -> None:
    expected = _backbone("cached", cache_dir=str(tmp_path))(images)
    for path in tmp_path.glob("*.pt"):
        path.write_bytes(path.read_bytes()[:100])
    again = _backbone("cached", cache_dir=str(tmp_path))
    got = again(images)
    assert again.misses == len(images)
    for a, b in zip(expected, got):
        assert torch.equal(a, b)


def test_other_frozen_weights_never_read_these_entries(images: torch.Tensor, tmp_path: Path) -> None:
    _backbone("cached", cache_dir=str(tmp_path))(images)
    other = _backbone("cached", cache_dir=str(tmp_path))
    with torch.no_grad():
        other.layer1[0].conv1.weight.mul_(1.5)
    other.train()  # a checkpoint loaded between two forwards: the weights are digested again
    got = other(images)
    assert (other.misses, other.hits) == (len(images), 0)
    plain = _backbone("plain")
    with torch.no_grad():
        plain.layer1[0].conv1.weight.mul_(1.5)
    assert torch.equal(got[1], torch.cat([plain(images[i : i + 1])[1] for i in range(len(images))]).detach())


def test_no_frozen_stages_or_gradients_on_the_input_is_the_plain_forward(images: torch.Tensor, tmp_path: Path) -> None:
    unfrozen = _backbone("cached", cache_dir=str(tmp_path), frozen_stages=-1)
    unfrozen(images)
    x = images.clone().requires_grad_(True)
    frozen = _backbone("cached", cache_dir=str(tmp_path))
    frozen(x)[0].sum().backward()
    assert x.grad is not None
    assert unfrozen.misses == frozen.misses == 0 and not list(tmp_path.glob("*.pt"))


def test_build_config_uses_it_for_a_frozen_resnet_only(tmp_path: Path) -> None:
    from detectors_adapter.build_config import build_config
    from detectors_adapter.spec import TrainSpec

    base = dict(detector="fcos_tiny", space="sigmoid_cls", formula=known_loss("fl").to_prefix(), train_ann="a.json",
                train_images="i", test_ann="a.json", test_images="i", classes=["a"], epochs=1,
                work_dir=str(tmp_path), result=str(tmp_path / "r.json"))  # fmt: skip
    cached = build_config(TrainSpec(**base, frozen_stages=2, frozen_cache=str(tmp_path / "f"))).model.backbone
    assert cached.type == "FrozenCacheResNet" and cached.cache_dir == str(tmp_path / "f")
    assert build_config(TrainSpec(**base, frozen_stages=2)).model.backbone.type == "ResNet"
    assert build_config(TrainSpec(**base, frozen_cache=str(tmp_path))).model.backbone.type == "ResNet"  # none frozen


def test_a_training_gives_the_same_result_with_a_cold_or_a_warm_cache(tiny_data: Path) -> None:
    """Real tiny FCOS trainings with the default pretrained start: the first fills the adapter's cache, the
    second reads it; both equal. Without the cache the result differs only by float rounding."""
    results = []
    adapter = MMDetFitnessAdapter("sigmoid_cls", data_root=str(tiny_data), epochs=2, threads=1, time_limit=300)
    try:
        for _ in range(2):
            results.append(adapter.train(known_loss("fl").to_prefix(), 0, "proxy"))
        cache = adapter._tmp / "frozen_features"
        assert len(list(cache.glob("*.pt"))) >= 16  # the train images (flipped or not) and the val images
    finally:
        adapter.close()
    plain = MMDetFitnessAdapter("sigmoid_cls", data_root=str(tiny_data), epochs=2, threads=1, time_limit=300,
                                frozen_cache=False)  # fmt: skip
    try:
        uncached = plain.train(known_loss("fl").to_prefix(), 0, "proxy")
        assert not (plain._tmp / "frozen_features").exists()
    finally:
        plain.close()
    cold, warm = results
    assert cold["metric"] == warm["metric"] and cold["last_loss"] == warm["last_loss"]
    assert cold["iters"] == uncached["iters"] == 4
    assert math.isclose(cold["last_loss"], uncached["last_loss"], rel_tol=1e-3)
