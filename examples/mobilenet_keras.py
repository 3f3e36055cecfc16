"""keras.applications' MobileNetV3Small at 96x96, 10 classes, seeded random weights (weights=None).
Its input spec is read from the Keras model."""

import keras

import builder


def build() -> builder.UserModel:
    keras.utils.set_random_seed(0)
    net = keras.applications.MobileNetV3Small(input_shape=(96, 96, 3), weights=None, classes=10)
    return builder.UserModel(
        net,
        outputs=["probabilities"],
        id="mobilenet_v3_small",
        description="keras.applications MobileNetV3Small, random weights, NHWC 96x96",
    )
