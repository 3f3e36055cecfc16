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
        # Measured (docs/your-model.md): 20 convolutions over logits that reach ~1e2 on the golden
        # set's magnitude-100 images; runtimes sum in other orders.
        tolerance={"atol": 1e-4, "rtol": 1e-4},
        description="torchvision ResNet-18, random weights, NCHW 64x64",
    )
