"""A small Flax CNN (NHWC 28x28 grey images -> 10 logits) given as the module plus its variables."""

import flax.linen as nn
import jax
import jax.numpy as jnp

import builder


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(16, (3, 3), strides=(2, 2))(x))  # (batch, 14, 14, 16)
        x = nn.relu(nn.Conv(32, (3, 3), strides=(2, 2))(x))  # (batch, 7, 7, 32)
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(10)(nn.relu(nn.Dense(64)(x)))


def build() -> builder.UserModel:
    module = CNN()
    variables = module.init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1), jnp.float32))
    return builder.UserModel(
        module,
        params=variables,
        inputs=[builder.TensorSpec("image", "float32", ("batch", 28, 28, 1))],
        outputs=["logits"],
        id="flax_cnn",
        description="Flax linen CNN, random weights, NHWC 28x28",
    )
