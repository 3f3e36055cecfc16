"""Real data that every machine has offline: scikit-learn's bundled digits and the Python
standard library's own source text. Nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sysconfig
from pathlib import Path

import numpy as np

from builder.data import Split

DIGIT_SIZE = 8  # load_digits images are 8x8, ink 0..16
DIGIT_CLASSES = 10


def digits(seed: int, test_fraction: float = 0.2) -> tuple[Split, Split]:
    """scikit-learn's 1,797 handwritten 8x8 digits (a file inside the wheel), ink scaled to [0, 1],
    as (n, 8, 8) float32 with int64 labels; a seeded, stratified train/held-out split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)  # (1797, 8, 8)
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng([seed, 0xD161])
    test = np.zeros(len(y), bool)
    for label in range(DIGIT_CLASSES):
        idx = rng.permutation(np.flatnonzero(y == label))
        test[idx[: round(len(idx) * test_fraction)]] = True
    return Split(x[~test], y[~test]), Split(x[test], y[test])


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


@dataclasses.dataclass(frozen=True)
class Corpus:
    """Text files of the standard library, with their sha256 (recorded in the manifest)."""

    files: tuple[str, ...]  # relative to the stdlib folder
    texts: tuple[str, ...]
    sha256: tuple[str, ...]

    def manifest_entry(self) -> dict:
        return {
            "source": "the Python standard library of the exporting interpreter",
            "files": [
                {"path": f, "sha256": h, "chars": len(t)}
                for f, t, h in zip(self.files, self.texts, self.sha256, strict=True)
            ],
        }


def stdlib_corpus(files: tuple[str, ...]) -> Corpus:
    texts, hashes = [], []
    for name in files:
        raw = (stdlib_dir() / name).read_bytes()
        hashes.append(hashlib.sha256(raw).hexdigest())
        texts.append(raw.decode("utf-8"))
    return Corpus(files, tuple(texts), tuple(hashes))


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    chars: str  # index -> character

    @classmethod
    def of(cls, texts: tuple[str, ...]) -> Vocabulary:
        return cls("".join(sorted(set("".join(texts)))))

    def encode(self, text: str) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.chars)}
        return np.array([index[c] for c in text], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.chars)


def unigram_bits_per_char(train: np.ndarray, held_out: np.ndarray, vocab_size: int) -> float:
    """Bits per character of the held-out ids under the training ids' character frequencies
    (add-one smoothed): the baseline a language model must beat."""
    counts = np.bincount(train, minlength=vocab_size).astype(np.float64) + 1.0
    p = counts / counts.sum()
    return float(-np.log2(p[held_out]).mean())
