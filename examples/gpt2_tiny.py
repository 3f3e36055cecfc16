"""A Hugging Face GPT-2 from a tiny config with a dynamic sequence (1 to 24 tokens): token ids in,
next-token logits out. Seeded random weights.

GPT-2 is causal, so `causal=("seq",)` lets onnx2tf fix the sequence at its max by padding on the
right, exactly, and the TensorFlow clients keep the dynamic sequence (docs/your-model.md).
"""

import torch
import transformers

import builder

VOCAB = 96
MAX_SEQ = 24


def build() -> builder.UserModel:
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=VOCAB,
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=4,
        use_cache=False,
        attn_implementation="eager",
    )
    return builder.UserModel(
        transformers.GPT2LMHeadModel(config),
        inputs=[
            builder.TensorSpec("input_ids", "int64", ("batch", builder.Dim("seq", 1, MAX_SEQ)), range=(0, VOCAB - 1))
        ],
        outputs=["logits"],
        id="gpt2_tiny",
        causal=("seq",),
        description="Hugging Face GPT2LMHeadModel, tiny config, random weights, dynamic sequence",
    )
