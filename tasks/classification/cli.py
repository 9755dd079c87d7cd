"""`copydesk train`: fit a topic model from JSON lines (text, label), print its evaluation, save it."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click

from .labels import TOPIC_LABELS


def read_jsonl(path: Path) -> list:
    from .training import Example

    examples = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, label = row["text"], row["label"]
            except (ValueError, KeyError, TypeError) as exc:
                raise click.ClickException(f"{path}:{number}: need a JSON object with text and label ({exc})") from exc
            if not isinstance(text, str) or not text.strip():
                raise click.ClickException(f"{path}:{number}: text must be a non-empty string")
            if label not in TOPIC_LABELS:
                raise click.ClickException(f"{path}:{number}: label {label!r} is not one of {', '.join(TOPIC_LABELS)}")
            examples.append(Example(text=text, label=label, source=path.name))
    return examples


@click.command("train")
@click.option("--data", "data_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON lines with 'text' and 'label' (one of: " + ", ".join(TOPIC_LABELS) + "). Repeatable.")
@click.option("--base", type=click.Choice(["none", "shipped"]), default="none", show_default=True,
              help="'shipped': also learn from the data the shipped model was built from (../shared/data and the written sets in tasks/classification/data).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the model and its model card to (point COPYDESK_MODEL_DIR at it).")
def train(data_files: tuple[Path, ...], base: str, out_dir: Path) -> None:
    """Train a topic model, print its evaluation on a held-back 10 %, write model + model card."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise click.ClickException(
            "training needs scikit-learn, which copydesk installs only with its `train` extra: "
            "pip install 'copydesk[train]' (or uv sync --extra train)"
        ) from None
    import warnings

    from .training import TrainingError, TrainingWarning
    from .training import train as train_model

    examples, described = [], []
    for path in data_files:
        rows = read_jsonl(path)
        examples += rows
        described.append(f"{path.name}: {len(rows)} examples (user data)")
    source_weights = None
    table = second_table = None
    if base == "shipped":
        from .build_shipped import SHIPPED_DATA_DESCRIPTION, SOURCE_WEIGHTS, shipped_examples, shipped_second_table, shipped_table

        # The shipped recipe, encoders included (their tables' words are the shipped data's).
        table = shipped_table()
        second_table = shipped_second_table()

        try:
            examples += shipped_examples()
        except FileNotFoundError as exc:
            raise click.ClickException(f"shipped training data not found ({exc}); set COPYDESK_SHARED_DIR") from exc
        described += SHIPPED_DATA_DESCRIPTION
        source_weights = SOURCE_WEIGHTS
    if not examples:
        raise click.UsageError("give --data FILE.jsonl and/or --base shipped")
    command = " ".join(
        ["copydesk", "train"]
        + [part for path in data_files for part in ("--data", shlex.quote(str(path)))]
        + ["--base", base, "--out", shlex.quote(str(out_dir))]
    )
    try:
        with warnings.catch_warnings():
            # Said once, in the report (and on stderr below), not also as a Python warning.
            warnings.simplefilter("ignore", TrainingWarning)
            result = train_model(examples, out_dir, described, source_weights, rebuild_command=command, table=table, second_table=second_table)
    except TrainingError as exc:
        raise click.ClickException(str(exc)) from exc
    for message in result.warnings:
        click.echo(f"warning: {message}", err=True)
    click.echo(result.report)
    click.echo(f"wrote {out_dir / 'model.npz'} and its model card (version {result.model.version})")
