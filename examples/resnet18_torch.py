"""torchvision's ResNet-18 at 64x64, 10 classes, seeded random weights (nothing is downloaded).

python -m builder export --from examples/resnet18_torch.py:build --out models-resnet
"""

import torch
import torchvision

import builder


def build() -> builder.UserModel:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None, num_classes=10)
    return builder.UserModel(
        net,
        inputs=[builder.TensorSpec("image", "float32", ("batch", 3, 64, 64))],
        outputs=["logits"],
        id="resnet18",
        # Measured (docs/measurements.md, "Your own model"): 20 convolutions summed in other orders
        # differ by up to 5.5e-5 (TFLite) on logits up to ~41; near-zero logits would fail the
        # default atol of 1e-5, so the absolute part is 1e-4 (the relative part stays the default).
        tolerance={"atol": 1e-4, "rtol": 1e-4},
        description="torchvision ResNet-18, random weights, NCHW 64x64",
    )
