"""GPLoss against mmdet's own losses, and the IoU-aware heads' loss computation (no training)."""

from __future__ import annotations

import pytest

pytest.importorskip("mmdet")

import torch  # noqa: E402
from mmdet.models.losses import CrossEntropyLoss, FocalLoss, GIoULoss  # noqa: E402
from mmdet.registry import MODELS  # noqa: E402
from mmdet.structures.bbox import bbox_overlaps  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402

from detectors_adapter.models import GPFCOSHead, GPLoss, GPShared2FCBBoxHead, box_terms  # noqa: E402
from gp_autoloss.errors import ConfigError  # noqa: E402

pytestmark = pytest.mark.mmdet


def _boxes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 80
    pred = torch.cat([xy, xy + 2 + torch.rand(n, 2, generator=g) * 40], 1)
    target = pred + torch.randn(n, 4, generator=g) * 6
    target[:, 2:] = torch.maximum(target[:, 2:], target[:, :2] + 1)
    return pred, target


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ce_formula_with_w1_equals_mmdet_cross_entropy(reduction: str) -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(300, 9, generator=g) * 4
    labels = torch.randint(0, 9, (300,), generator=g)
    weights = (torch.rand(300, generator=g) > 0.2).float()
    native, gp = CrossEntropyLoss(reduction=reduction, loss_weight=2.0), GPLoss("ce", reduction=reduction,
                                                                                loss_weight=2.0)
    avg = 217.0 if reduction == "mean" else None
    x1, x2 = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    a, b = native(x1, labels, weights, avg_factor=avg), gp(x2, labels, weights, avg_factor=avg)
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    a.sum().backward()
    b.sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-4, atol=1e-7)
    # w = 1 explicitly (the head's iou for positives = 1) gives the same
    torch.testing.assert_close(gp(logits, labels, weights, avg_factor=avg, iou=torch.ones(300)), a,
                               rtol=1e-5, atol=1e-6)


def test_giou_formula_equals_mmdet_giou_loss() -> None:
    pred, target = _boxes(200, 1)
    weight = torch.rand(200, 4)
    for kwargs in ({}, {"weight": weight, "avg_factor": 150.0}, {"reduction_override": "none"}):
        p1, p2 = pred.clone().requires_grad_(), pred.clone().requires_grad_()
        a = GIoULoss(loss_weight=10.0)(p1, target, **kwargs)
        b = GPLoss("giou", loss_weight=10.0)(p2, target, **kwargs)
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
        a.sum().backward()
        b.sum().backward()
        torch.testing.assert_close(p2.grad, p1.grad, rtol=1e-4, atol=1e-6)
    zero = GPLoss("giou")(pred.clone().requires_grad_(), target, weight=torch.zeros(200, 4))
    assert zero.item() == 0.0 and zero.requires_grad


def test_fl_formula_with_alpha_equals_mmdet_focal_loss() -> None:
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(500, 6, generator=g) * 3
    labels = torch.randint(0, 7, (500,), generator=g)  # 6 = background
    a = FocalLoss(gamma=2.0, alpha=0.25)(logits, labels, avg_factor=40.0)
    b = GPLoss("fl", alpha=0.25)(logits, labels, avg_factor=40.0)
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_box_terms_are_intersection_union_enclosure() -> None:
    pred = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 4.0, 4.0]])
    target = torch.tensor([[5.0, 5.0, 15.0, 15.0], [10.0, 10.0, 12.0, 12.0]])
    i, u, e = box_terms(pred, target)
    torch.testing.assert_close(i, torch.tensor([25.0, 0.0]))
    torch.testing.assert_close(u, torch.tensor([175.0, 20.0]) + 1e-7)
    torch.testing.assert_close(e, torch.tensor([225.0, 144.0]) + 1e-7)


def test_iou_input_reaches_positives_only() -> None:
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, 1, 2, 2])  # 2 = background
    iou = torch.tensor([0.5, 0.25, 0.9, 0.9])
    got = GPLoss("-dot(w * y, log(softmax(x)))", space="softmax_cls", reduction="none")(logits, labels, iou=iou)
    logp = torch.log_softmax(logits, -1)[torch.arange(4), labels]
    w = torch.tensor([0.5, 0.25, 1.0, 1.0])  # negatives get w = 1
    torch.testing.assert_close(got, -w * logp, rtol=1e-5, atol=1e-6)
    sig = GPLoss("-(w * y * log(sigmoid(x)))", space="sigmoid_cls", alpha=None, reduction="none")
    out = sig(logits[:, :2], labels, iou=iou)
    expected = torch.zeros(4, 2)
    expected[0, 0] = -0.5 * torch.log(torch.sigmoid(logits[0, 0]))
    expected[1, 1] = -0.25 * torch.log(torch.sigmoid(logits[1, 1]))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_space_is_inferred_or_must_be_given() -> None:
    assert GPLoss("cse_b_reg").space == "iou_reg"
    assert GPLoss("1 - i / u").space == "iou_reg"
    assert GPLoss("-(y * log(sigmoid(x)))").space == "sigmoid_cls"  # x is a vector in softmax_cls
    with pytest.raises(ConfigError, match=r"give space=.*softmax_cls, sigmoid_cls"):
        GPLoss("-log(w)")
    with pytest.raises(ConfigError, match=r"give space=.*none"):
        GPLoss("q + 1")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: GPLoss("1 - i / u", space="softmax_cls"), "not a softmax_cls loss: unknown name 'i'"),
        (lambda: GPLoss("giou", space="sigmoid_cls"), "known loss 'giou' is a iou_reg loss"),
        (lambda: GPLoss("ce", use_sigmoid=True), "contradicts space"),
        (lambda: MODELS.build({"type": "GPLoss", "formula": "fl", "space": "nope"}), "unknown space"),
        (lambda: GPFCOSHead(num_classes=3, in_channels=8, loss_cls={"type": "GPLoss", "formula": "ce"}),
         "GPFCOSHead.loss_cls needs a sigmoid_cls loss"),
        (lambda: GPFCOSHead(num_classes=3, in_channels=8, loss_bbox={"type": "GPLoss", "formula": "fli"}),
         "GPFCOSHead.loss_bbox needs a iou_reg loss"),
        (lambda: GPShared2FCBBoxHead(num_classes=3, in_channels=8, loss_cls={"type": "GPLoss", "formula": "giou"}),
         "GPShared2FCBBoxHead.loss_cls needs a softmax_cls loss"),
        (lambda: GPShared2FCBBoxHead(num_classes=3, in_channels=8, loss_bbox={"type": "GPLoss", "formula": "giou"}),
         "set reg_decoded_bbox=True"),
    ],
)
def test_wrong_space_for_a_branch_is_one_line_config_error(build, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        build()
    assert "\n" not in str(info.value)


# ---- heads ---------------------------------------------------------------------------------------------------
def _bbox_head(**losses: dict) -> GPShared2FCBBoxHead:
    torch.manual_seed(0)
    head = GPShared2FCBBoxHead(num_classes=3, in_channels=4, roi_feat_size=2, fc_out_channels=8,
                               reg_decoded_bbox=True, **losses)
    head.init_weights()
    return head


def _roi_batch(n_pos: int, n: int = 12) -> tuple:
    g = torch.Generator().manual_seed(3)
    rois_xyxy, gts = _boxes(n, 4)
    rois = torch.cat([torch.zeros(n, 1), rois_xyxy], 1)
    labels = torch.full((n,), 3, dtype=torch.long)
    labels[:n_pos] = torch.randint(0, 3, (n_pos,), generator=g)
    label_weights = torch.ones(n)
    targets = torch.zeros(n, 4)
    targets[:n_pos] = gts[:n_pos]
    bbox_weights = torch.zeros(n, 4)
    bbox_weights[:n_pos] = 1
    feats = torch.randn(n, 4, 2, 2, generator=g)
    return feats, rois, labels, label_weights, targets, bbox_weights


def test_two_stage_head_feeds_detached_iou_of_decoded_boxes() -> None:
    head = _bbox_head(loss_cls={"type": "GPLoss", "formula": "cei"},
                      loss_bbox={"type": "GPLoss", "formula": "giou", "loss_weight": 10.0})
    feats, rois, labels, label_weights, targets, bbox_weights = _roi_batch(n_pos=5)
    cls_score, bbox_pred = head(feats)
    losses = head.loss(cls_score, bbox_pred, rois, labels, label_weights, targets, bbox_weights)
    assert set(losses) == {"loss_cls", "acc", "loss_bbox"}
    pos = labels < 3
    decoded = head.bbox_coder.decode(rois[pos, 1:], bbox_pred.view(12, 3, 4)[pos, labels[pos]])
    iou = bbox_overlaps(decoded, targets[pos], is_aligned=True).clamp(min=1e-7).detach()
    w = torch.ones(12)
    w[pos] = iou
    logp = torch.log_softmax(cls_score, -1)[torch.arange(12), labels]
    torch.testing.assert_close(losses["loss_cls"], (-w * logp).sum() / 12, rtol=1e-5, atol=1e-6)
    expected_bbox = GIoULoss(loss_weight=10.0)(decoded, targets[pos], bbox_weights[pos], avg_factor=12)
    torch.testing.assert_close(losses["loss_bbox"], expected_bbox, rtol=1e-5, atol=1e-6)
    (losses["loss_cls"] + losses["loss_bbox"]).backward()


def test_two_stage_head_native_losses_match_mmdet_head() -> None:
    from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead

    cfg = {"loss_cls": {"type": "CrossEntropyLoss"}, "loss_bbox": {"type": "GIoULoss", "loss_weight": 10.0}}
    gp = _bbox_head(**cfg)
    torch.manual_seed(0)
    stock = Shared2FCBBoxHead(num_classes=3, in_channels=4, roi_feat_size=2, fc_out_channels=8,
                              reg_decoded_bbox=True, **cfg)
    stock.load_state_dict(gp.state_dict())
    feats, *targets = _roi_batch(n_pos=4)
    a = gp.loss(*gp(feats), *targets)
    b = stock.loss(*stock(feats), *targets)
    for key in b:
        torch.testing.assert_close(a[key], b[key])


def test_two_stage_head_without_positives() -> None:
    head = _bbox_head(loss_cls={"type": "GPLoss", "formula": "cse_a_cls"},
                      loss_bbox={"type": "GPLoss", "formula": "cse_a_reg"})
    feats, *targets = _roi_batch(n_pos=0)
    losses = head.loss(*head(feats), *targets)
    assert torch.isfinite(losses["loss_cls"]) and losses["loss_bbox"].item() == 0.0
    (losses["loss_cls"] + losses["loss_bbox"]).backward()


def _fcos_head(**kwargs: object) -> GPFCOSHead:
    torch.manual_seed(0)
    head = GPFCOSHead(num_classes=3, in_channels=8, feat_channels=8, stacked_convs=1, strides=[8, 16],
                      regress_ranges=((-1, 32), (32, 1e8)), norm_cfg=None, **kwargs)
    head.init_weights()
    return head


def _fcos_inputs(with_gt: bool) -> tuple:
    feats = [torch.randn(2, 8, 8, 8), torch.randn(2, 8, 4, 4)]
    gts = []
    for k in range(2):
        inst = InstanceData()
        if with_gt:
            inst.bboxes = torch.tensor([[4.0, 6.0, 30.0, 40.0], [30.0, 2.0, 60.0, 20.0]]) + k
            inst.labels = torch.tensor([0, 2])
        else:
            inst.bboxes = torch.zeros(0, 4)
            inst.labels = torch.zeros(0, dtype=torch.long)
        gts.append(inst)
    metas = [{"img_shape": (64, 64), "pad_shape": (64, 64)}] * 2
    return feats, gts, metas


@pytest.mark.parametrize("norm_on_bbox", [False, True])
def test_fcos_head_iou_replaces_centerness_and_reaches_cls(norm_on_bbox: bool) -> None:
    head = _fcos_head(norm_on_bbox=norm_on_bbox, center_sampling=True,
                      loss_cls={"type": "GPLoss", "formula": "cse_b_cls"},
                      loss_bbox={"type": "GPLoss", "formula": "cse_b_reg"})
    feats, gts, metas = _fcos_inputs(with_gt=True)
    outs = head(feats)
    losses = head.loss_by_feat(*outs, gts, metas)
    assert set(losses) == {"loss_cls", "loss_bbox", "loss_centerness"}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    # the GPLoss saw IoUs in (0, 1] for positives and 1 for negatives
    seen = {}
    orig = head.loss_cls.forward

    def spy(*args, **kwargs):
        seen["iou"] = kwargs["iou"]
        return orig(*args, **kwargs)

    head.loss_cls.forward = spy
    head.loss_by_feat(*head(feats), gts, metas)
    iou = seen["iou"]
    assert iou.min() > 0 and iou.max() <= 1 and (iou < 1).any() and not iou.requires_grad


def test_fcos_head_without_gt_and_with_native_losses() -> None:
    head = _fcos_head(loss_cls={"type": "GPLoss", "formula": "fli"})
    feats, gts, metas = _fcos_inputs(with_gt=False)
    losses = head.loss_by_feat(*head(feats), gts, metas)
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss_bbox"].item() == 0.0
    sum(losses.values()).backward()
    native = _fcos_head()  # FocalLoss + IoULoss from FCOSHead's defaults
    feats, gts, metas = _fcos_inputs(with_gt=True)
    assert all(torch.isfinite(v) for v in native.loss_by_feat(*native(feats), gts, metas).values())


@pytest.mark.parametrize(("space", "formula", "detector"), [
    ("sigmoid_cls", "cse_b_cls", "fcos_tiny"),
    ("iou_reg", "cse_b_reg", "fcos_tiny"),
    ("softmax_cls", "cse_a_cls", "faster_rcnn_tiny"),
])
def test_exported_snippet_builds_a_detector_with_the_found_loss(space: str, formula: str, detector: str) -> None:
    """`gp-autoloss export --format mmdet` text, merged into a real config, builds a model using the loss."""
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    from detectors_adapter.detectors import get_detector
    from gp_autoloss import known_loss
    from gp_autoloss.plugins import load_plugins
    from gp_autoloss.reporting.data import RunData
    from gp_autoloss.reporting.export import export_snippet

    load_plugins()  # the mmdet export format comes from the detection plugin (entry point)
    loss = known_loss(formula)
    run = RunData(run_dir=".", config={"space": space}, generations=[], meta={}, candidates=[
        {"id": 1, "formula": loss.infix, "prefix": loss.to_prefix(), "proxy_ok": True, "proxy_metric": 0.5,
         "generation": 0, "origin": "mutation"}])
    snippet = Config.fromstring(export_snippet(run, "mmdet"), ".py")
    cfg = Config.fromfile(str(get_detector(detector).config_path))
    cfg.merge_from_dict(snippet.to_dict())
    register_all_modules()
    model = MODELS.build(cfg.model)
    head = model.roi_head.bbox_head if detector == "faster_rcnn_tiny" else model.bbox_head
    built = head.loss_cls if space != "iou_reg" else head.loss_bbox
    assert isinstance(built, GPLoss) and built.space == space and built.loss.key == loss.key
