# ruff: noqa: C408  (mmdet config style: dict(...) everywhere)
# Tiny FCOS for CPU search (CSE-Autoloss-B's detector, scaled down): ResNet-18/16 + FPN 64, 128 px images.
# Classification: sigmoid (FocalLoss, or a GPLoss over sigmoid_cls); regression: GIoU on decoded pixel boxes;
# the IoU with the target replaces the centerness target (GPFCOSHead).
_base_ = ['./_tiny_base.py']

model = dict(
    type='FCOS',
    data_preprocessor={{_base_.tiny_data_preprocessor}},
    backbone={{_base_.tiny_backbone}},
    neck=dict(
        type='FPN',
        in_channels=[16, 32, 64, 128],
        out_channels=64,
        start_level=1,
        add_extra_convs='on_output',
        num_outs=4,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type='GPFCOSHead',
        num_classes=6,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        strides=[8, 16, 32, 64],
        regress_ranges=((-1, 16), (16, 32), (32, 64), (64, 1e8)),
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        center_sampling=True,
        center_sample_radius=1.5,
        norm_on_bbox=True,
        centerness_on_reg=True,
        conv_bias=True,
        iou_as_centerness=True,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(nms_pre=300, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.6),
                  max_per_img=50))
