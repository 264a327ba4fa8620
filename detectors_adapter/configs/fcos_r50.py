# ruff: noqa: C408  (mmdet config style: dict(...) everywhere)
# The paper's one-stage setting: FCOS R50-caffe-FPN-GN 1x on COCO with center sampling, norm-on-bbox,
# centerness-on-reg and GIoU, built on mmdet's own config. GPFCOSHead replaces the centerness target by the
# IoU of the decoded prediction and hands that IoU to the classification loss. Needs a GPU and COCO.
_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_1x_coco.py'
custom_imports = dict(imports=['detectors_adapter.models'], allow_failed_imports=False)

model = dict(bbox_head=dict(type='GPFCOSHead', iou_as_centerness=True))
