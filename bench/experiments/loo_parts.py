"""Leave-one-outlet-out (issue 14), in parts: for each outlet's fold model (outlets.fold_model, the
shipped recipe with the encoder), the raw scores of its two halves on every scored text (full and
lead) are saved: the linear model's scores (and which of its two weight sets scored the text) and
the encoder's, with the text's detected language and word count. Blends, temperatures and per-length
rules can then be scored offline (--table) without training again; the blend the stage makes
(topics.TopicModel.predict) is one of them, and --check confirms it gives the stage's labels.

    nice -n 10 .venv/bin/python bench/experiments/loo_parts.py --save /tmp/parts.npz [--outlet NAME ...]
    .venv/bin/python bench/experiments/loo_parts.py --table /tmp/parts.npz[,/tmp/more.npz]

The saved "encoder" scores are the first (English, MiniLM) encoder's for every text: since model
5c88ad7a909c German texts go to the second encoder in the stage, so --check disagrees on the German
fold and its "stage" row is the English-only blend; bench/experiments/loo_multilingual.py scores the
German encoder from the same file.

--calibrated makes each fold's model as `train` does (temperatures and threshold fitted on the fold's
own held-back tenth) instead of outlets.fold_model's shipped temperatures: a measurement of that
approximation (tasks/classification/HISTORY.md, "Decided: the label guidelines win").
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tasks.classification.evaluation import as_stage, merge_world_politics  # noqa: E402
from tasks.classification.features import lead, word_bytes  # noqa: E402
from tasks.classification.language import detect  # noqa: E402
from tasks.classification.outlets import LEAD_WORDS, OUTLETS, fold_model  # noqa: E402


def parts_of(model, texts: list[str]) -> dict[str, np.ndarray]:
    linear, is_long, encoder, language, n_words = [], [], [], [], []
    for text in texts:
        tokens = word_bytes(text)
        ids, values = model._vector(tokens)
        long = model.long is not None and len(tokens) >= model.long.min_words
        weights, bias = (model.long.weights, model.long.bias) if long else (model.weights, model.bias)
        linear.append(values @ weights[ids] + bias if len(ids) else bias.copy())
        is_long.append(long)
        enc = model.encoder
        encoder.append(enc._weights64 @ enc.vector(tokens) + enc._bias64)
        language.append(detect(text).code)
        n_words.append(len(tokens))
    return {
        "linear": np.array(linear, dtype=np.float64), "long": np.array(is_long), "encoder": np.array(encoder),
        "language": np.array(language), "words": np.array(n_words),
    }


def calibrated_fold_model(name: str):
    """The fold's model as `train` makes it: temperatures and threshold fitted on the fold's own
    held-back tenth (not the shipped model's), then refitted on all the fold's rows."""
    import tempfile

    from tasks.classification.build_shipped import SOURCE_WEIGHTS, shipped_table
    from tasks.classification.outlets import fold_training
    from tasks.classification.training import Example, train

    examples = [Example(text, label, source) for text, label, source in fold_training(name)]
    with tempfile.TemporaryDirectory() as folder:
        return train(examples, Path(folder), (), SOURCE_WEIGHTS, table=shipped_table()).model


def save(path: Path, only: list[str] | None, check: bool, calibrated: bool = False) -> None:
    out: dict[str, np.ndarray] = {}
    meta: dict = {}
    if path.is_file():  # resume: keep the folds already saved
        out, meta = load(path)
        only = [n for n in (only or OUTLETS) if n not in meta]
    for name, outlet in OUTLETS.items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        model = calibrated_fold_model(name) if calibrated else fold_model(name)
        scored = outlet.scored()
        meta[name] = {
            "labels": model.labels, "temperature": model.temperature,
            "long_temperature": model.long.temperature if model.long else model.temperature,
            "encoder_temperature": model.encoder.temperature, "seconds": time.perf_counter() - started,
        }
        out[f"{name}/truth"] = np.array([label for _, label in scored])
        for kind, texts in (("full", [t for t, _ in scored]), ("lead", [lead(t, LEAD_WORDS) for t, _ in scored])):
            for key, value in parts_of(model, texts).items():
                out[f"{name}/{kind}/{key}"] = value
            if check:
                stage = np.array([as_stage(model, t).label for t in texts[:300]])
                mine = predict(out, meta, name, kind)[:300]
                print(f"  check {name} {kind}: {int((stage == mine).sum())}/{len(stage)} agree with the stage", flush=True)
        print(f"fold {name}: {time.perf_counter() - started:.0f} s", flush=True)
        np.savez_compressed(path, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **out)
    np.savez_compressed(path, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **out)


def softmax(z: np.ndarray, t) -> np.ndarray:
    z = z * (np.asarray(t)[:, None] if np.ndim(t) else t)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def probabilities(
    parts, meta, name: str, kind: str, blend=0.5, languages=("en",), long_blend=None, t_scale=1.0, geometric=False,
    enc_t_scale=1.0,
):
    m = meta[name]
    p = f"{name}/{kind}/"
    long = parts[p + "long"]
    temperature = np.where(long, m["long_temperature"], m["temperature"])
    lin = softmax(parts[p + "linear"], temperature * t_scale)
    enc = softmax(parts[p + "encoder"], m["encoder_temperature"] * enc_t_scale)
    w = np.where(long, blend if long_blend is None else long_blend, blend)
    w = np.where(np.isin(parts[p + "language"], languages), w, 0.0)
    if geometric:
        z = (1 - w)[:, None] * np.log(lin + 1e-300) + w[:, None] * np.log(enc + 1e-300)
        return softmax(z, 1.0)
    return (1 - w)[:, None] * lin + w[:, None] * enc


def predict(parts, meta, name, kind, **kwargs) -> np.ndarray:
    labels = np.array(meta[name]["labels"])
    return labels[probabilities(parts, meta, name, kind, **kwargs).argmax(axis=1)]


def accuracy(parts, meta, name, kind, **kwargs) -> tuple[float, dict[str, float]]:
    truth = np.array([merge_world_politics(x) for x in parts[f"{name}/truth"]])
    found = np.array([merge_world_politics(x) for x in predict(parts, meta, name, kind, **kwargs)])
    by_label = {label: float((found[truth == label] == label).mean()) for label in sorted(set(truth))}
    return float((truth == found).mean()), by_label


def load(path: Path):
    data = np.load(path, allow_pickle=False)
    meta = json.loads(data["meta"].tobytes().decode())
    return {k: data[k] for k in data.files if k != "meta"}, meta


FULL = ("bbc_news", "guardian_2022", "10kgnad_de", "written")


def table(path: Path, variants: dict[str, dict]) -> None:
    parts, meta = {}, {}
    for one in str(path).split(","):
        more = load(Path(one))
        parts.update(more[0])
        meta.update(more[1])
    names = [n for n in OUTLETS if n in meta]
    print(f"{'variant':28} " + " ".join(f"{n[:10]:>10}" for n in names) + "  macro-full  min-label")
    for title, kwargs in variants.items():
        cells, low = [], (1.0, "")
        for name in names:
            acc, by_label = accuracy(parts, meta, name, "full", **kwargs)
            cells.append(acc)
            if name in FULL:
                label = min(by_label, key=by_label.get)
                if by_label[label] < low[0]:
                    low = (by_label[label], f"{name[:8]}:{label}")
        full = [c for n, c in zip(names, cells, strict=True) if n in FULL]
        macro = statistics.mean(full) if len(full) == len(FULL) else float("nan")
        print(f"{title:28} " + " ".join(f"{c:>10.4f}" for c in cells) + f"  {macro:>10.4f}  {low[1]} {low[0]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--table", type=Path)
    parser.add_argument("--outlet", action="append")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--calibrated", action="store_true", help="fold models calibrated on their own held-back rows")
    args = parser.parse_args()
    if args.save:
        save(args.save, args.outlet, args.check, args.calibrated)
    if args.table:
        variants: dict[str, dict] = {"stage (blend 0.5, en)": {}, "linear alone": {"blend": 0.0}}
        for w in (0.3, 0.4, 0.6, 0.7):
            variants[f"blend {w}"] = {"blend": w}
        for w in (0.3, 0.4, 0.6, 0.7):
            variants[f"blend 0.5, full {w}"] = {"long_blend": w}
        variants["blend 0.5, de too"] = {"languages": ("en", "de")}
        variants["encoder alone (en)"] = {"blend": 1.0}
        for w in (0.4, 0.5, 0.6):
            variants[f"geometric {w}"] = {"blend": w, "geometric": True}
        for t in (0.5, 2.0):
            variants[f"linear T x{t}"] = {"t_scale": t}
            variants[f"encoder T x{t}"] = {"enc_t_scale": t}
        table(args.table, variants)
        parts, meta = {}, {}
        for one in str(args.table).split(","):
            more = load(Path(one))
            parts.update(more[0])
            meta.update(more[1])
        for name in [n for n in FULL if n in meta]:
            acc, by_label = accuracy(parts, meta, name, "full")
            print(f"  {name}: " + " ".join(f"{k} {v:.3f}" for k, v in by_label.items()))


if __name__ == "__main__":
    main()
