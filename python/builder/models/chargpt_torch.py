"""`chargpt_torch`: a character-level causal transformer trained on the standard library's source.

Token and position embeddings, pre-LayerNorm blocks of multi-head causal self-attention and a
GELU MLP, a final LayerNorm and a separate head. Input `tokens` int64 (batch, seq) with `seq`
dynamic up to the context length; output `logits` float32 (batch, seq, vocab): for every position,
the scores of the next character. The corpus is a fixed list of stdlib files (their sha256 go in
the manifest with the vocabulary); held-out bits per character are recorded beside the unigram
baseline's.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from builder import datasets
from builder.models import torch_training
from builder.models.common import BATCH, EpochCallback, History, TrainConfig, Trained
from builder.tensors import Dim, TensorSpec

MODEL_ID = "chargpt_torch"
SOURCE = "torch"
DEFAULT_EPOCHS = 4
METRIC = "held-out bits per character"  # the per-epoch number History records (lower is better)
CORPUS_FILES = ("textwrap.py", "string.py", "shlex.py", "fnmatch.py", "glob.py", "heapq.py", "bisect.py", "colorsys.py")
# The context differs from the embedding width on purpose: onnx2tf 1.28.8 cannot tell two axes of
# equal size apart, and converts a (batch, 64, 64) activation silently wrong (max diff ~10, measured;
# builder.formats.onnx_convert), while at 48 its SavedModel matches torch to 3e-6.
CONTEXT = 48
EMBED, HEADS, LAYERS = 64, 4, 2
STEPS_PER_EPOCH = 150
LEARNING_RATE = 3e-3
HELD_OUT_FRACTION = 0.1
SEQ = Dim("seq", min=1, max=CONTEXT)
# Attention softmax, LayerNorm and GELU in float32 over 48- and 64-wide sums: runtimes differ by ~1e-5 on
# logits of magnitude ~10.
TOLERANCE = {"atol": 1e-4, "rtol": 1e-4}


class CausalSelfAttention(nn.Module):
    def __init__(self, embed: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(embed, 3 * embed)
        self.proj = nn.Linear(embed, embed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, seq, embed)
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # (batch, heads, seq, head)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, embed: int, heads: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(embed)
        self.attn = CausalSelfAttention(embed, heads)
        self.ln2 = nn.LayerNorm(embed)
        # tanh GELU (as GPT-2): the exact one becomes Erfc after ONNX -> TF, which TF.js lacks.
        self.mlp = nn.Sequential(nn.Linear(embed, 4 * embed), nn.GELU(approximate="tanh"), nn.Linear(4 * embed, embed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharGPT(nn.Module):
    def __init__(self, vocab: int, context: int = CONTEXT, embed: int = EMBED, heads: int = HEADS, layers: int = LAYERS) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, embed)
        self.pos = nn.Embedding(context, embed)
        self.blocks = nn.Sequential(*[Block(embed, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(embed)
        self.head = nn.Linear(embed, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (batch, seq) int64 -> (batch, seq, vocab)
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.tok(tokens) + self.pos(positions)
        return self.head(self.ln(self.blocks(x)))


def windows(ids: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` random (input, next-character target) windows of CONTEXT characters."""
    starts = rng.integers(0, len(ids) - CONTEXT - 1, count)
    x = np.stack([ids[s : s + CONTEXT] for s in starts])
    y = np.stack([ids[s + 1 : s + CONTEXT + 1] for s in starts])
    return x, y


def bits_per_char(model: nn.Module, ids: np.ndarray) -> float:
    """Mean next-character cross-entropy in bits over the held-out text, in CONTEXT windows."""
    n = (len(ids) - 1) // CONTEXT
    x = torch.from_numpy(ids[: n * CONTEXT].reshape(n, CONTEXT))
    y = torch.from_numpy(ids[1 : n * CONTEXT + 1].reshape(n, CONTEXT))
    with torch.inference_mode():
        nats = F.cross_entropy(model(x).reshape(-1, model.head.out_features), y.reshape(-1))
    return float(nats) / math.log(2)


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    epochs = cfg.epochs or DEFAULT_EPOCHS
    torch.manual_seed(cfg.seed)
    corpus = datasets.stdlib_corpus(CORPUS_FILES)
    vocab = datasets.Vocabulary.of(corpus.texts)
    # Each file's last 10% is held out, so the held-out text is unseen but of the same kind.
    cuts = [int(len(t) * (1 - HELD_OUT_FRACTION)) for t in corpus.texts]
    train_ids = vocab.encode("".join(t[:c] for t, c in zip(corpus.texts, cuts)))
    held_out_ids = vocab.encode("".join(t[c:] for t, c in zip(corpus.texts, cuts)))
    x, y = windows(train_ids, STEPS_PER_EPOCH * cfg.batch_size, np.random.default_rng([cfg.seed, 0xC4A2]))

    model = CharGPT(len(vocab))
    history = History(on_epoch)

    def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.reshape(-1, len(vocab)), target.reshape(-1))

    start = time.perf_counter()
    torch_training.fit(
        model, (x,), y, loss_fn, lambda: bits_per_char(model, held_out_ids),
        epochs=epochs, batch_size=cfg.batch_size, learning_rate=LEARNING_RATE, seed=cfg.seed, history=history,
    )
    seconds = time.perf_counter() - start
    model.eval()
    forward = torch_training.numpy_forward(model)
    held_out_bpc = history.rows[-1]["accuracy"]  # the held-out metric of this model is bits per char
    unigram = datasets.unigram_bits_per_char(train_ids, held_out_ids, len(vocab))
    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=model,
        predict=lambda arrays: {"logits": forward(arrays["tokens"])},
        parameters=sum(p.numel() for p in model.parameters()),
        training={
            "epochs": epochs, "final_loss": history.rows[-1]["loss"], "accuracy": None, "seconds": seconds,
            "metric": METRIC, "held_out_bits_per_char": held_out_bpc,
            "unigram_bits_per_char": unigram, "held_out_chars": int(len(held_out_ids)),
        },
        inputs=(TensorSpec("tokens", "int64", ("batch", "seq"), range=(0, len(vocab) - 1)),),
        outputs=(TensorSpec("logits", "float32", ("batch", "seq", len(vocab))),),
        dims=(BATCH, SEQ),
        history=history.rows,
        golden_sizes={"seq": 24},
        causal_dims=("seq",),  # causal self-attention: position i never sees i + 1
        info={
            "task": "next-character prediction on Python standard-library source",
            "data": corpus.manifest_entry(),
            "vocabulary": vocab.chars,
        },
    )
