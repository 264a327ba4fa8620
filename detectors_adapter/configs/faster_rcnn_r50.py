# ruff: noqa: C408  (mmdet config style: dict(...) everywhere)
# The paper's two-stage setting: Faster R-CNN R50-FPN 1x on COCO, GIoU (x10) on decoded boxes, built on
# mmdet's own config. GPShared2FCBBoxHead hands the R-CNN classification loss the IoU of each decoded box.
# Needs a GPU and COCO under data/coco/; the ImageNet weights come from download.pytorch.org (the
# torchvision:// scheme of the base config would need torchvision).
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_giou_1x_coco.py'
custom_imports = dict(imports=['detectors_adapter.models'], allow_failed_imports=False)

model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained',
                                checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    roi_head=dict(bbox_head=dict(type='GPShared2FCBBoxHead')))
