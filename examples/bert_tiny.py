"""A Hugging Face BERT from a tiny config: two int64 inputs (token ids and the attention mask),
two outputs (every token's hidden state, and the pooled one). Seeded random weights.

The sequence length is fixed at 12 so the model also reaches the TensorFlow clients (onnx2tf keeps
no dynamic dim but the batch for a non-causal model); the batch stays dynamic.
"""

import torch
import transformers

import builder

SEQ = 12
VOCAB = 100


def build() -> builder.UserModel:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        attn_implementation="eager",
    )
    return builder.UserModel(
        transformers.BertModel(config),
        inputs=[
            builder.TensorSpec("input_ids", "int64", ("batch", SEQ), range=(0, VOCAB - 1)),
            builder.TensorSpec("attention_mask", "int64", ("batch", SEQ), range=(0, 1)),
        ],
        outputs=["last_hidden_state", "pooler_output"],
        id="bert_tiny",
        description="Hugging Face BertModel, tiny config, random weights",
    )
