"""Rebuild the shipped topic model from ../shared/data: `python -m tasks.classification.build_shipped`.

Writes tasks/models/topics/ (model.npz, model_card.json, MODEL_CARD.md) and prints the held-back
evaluation and the scores on the fixed test sets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .evaluation import as_stage, format_confusion, merge_world_politics, same, scores
from .labels import GNAD_TRAIN_PERCENT, bbc_news, shipped_training_data, test_sets
from .topics import CARD_FILE, ENCODER_FILE, SECOND_ENCODER_FILE, SHIPPED_MODEL_DIR, EncoderTable, TopicModel
from .training import Example, TrainingResult, card_markdown, train

REBUILD_COMMAND = ".venv/bin/python -m tasks.classification.build_shipped"

#: BBC and German are full articles but few; weighing them up keeps the model from learning
#: AG's 2004 headline style only. HuffPost (recent headlines + descriptions) at 1. Measured on the
#: leave-one-outlet-out table (bench/experiments/loo_grid.py, macro over the four full-length
#: folds): these weights 0.8541; AG 0.5 0.8541; AG 0.3 + HuffPost 2 0.8549; AG 0.5 + BBC 1.5 +
#: HuffPost 3 0.8512; BBC 1.5 0.8540; news_en 5 0.8541; HuffPost 3 0.8544: within the table's
#: noise, so the 2004 sets keep their weights.
SOURCE_WEIGHTS = {"ag_news": 1.0, "bbc_news": 3.0, "10kgnad_de": 3.0, "health_en": 1.0, "news_en": 3.0, "huffpost": 1.0}

SHIPPED_DATA_DESCRIPTION = [
    "ag_news train_subset (20,447 AG News headline+description snippets, 2004-05; World, Sports, Business, Sci/Tech → world, sports, business, scitech)",
    "bbc_news fixed train split (1,798 full BBC articles, 2004-05; politics, business, entertainment, sport, tech → politics, business, entertainment, sports, scitech)",
    f"10kgnad_de: the {GNAD_TRAIN_PERCENT}% of the shipped 10kGNAD test split whose sha1(id) % 100 < {GNAD_TRAIN_PERCENT} "
    "(German DER STANDARD articles; International→world, Inland→politics, Wirtschaft→business, Sport→sports, Web and Wissenschaft→scitech, Kultur→entertainment; Panorama and Etat left out); the other half is the German test set",
    "health_en: small English health set written and labelled by the copydesk developers (tasks/classification/data/README.md)",
    "huffpost: the train split of ../shared/data/news_recent/huffpost_2018_2022 (8,138 HuffPost headline + description "
    "items, 2018-22, News Category Dataset, CC BY 4.0), labelled from the publisher's section by labels.HUFFPOST: "
    "POLITICS→politics, WORLD NEWS→world, BUSINESS and MONEY→business, SPORTS→sports, TECH and SCIENCE→scitech, "
    "ENTERTAINMENT→entertainment, WELLNESS and HEALTHY LIVING→health. Boundaries, by the label guidelines below: WELLNESS "
    "is the health desk (diseases, Covid and monkeypox explainers, mental health, diet, fitness and wellbeing), though "
    "more self-help than hospital news; SCIENCE is scitech (space, animals, climate; its few studies of people's health are read by the health rule below, "
    "like WORLD NEWS's outbreak and vaccine news); MONEY (personal finance, prices) is business. Left out: COMEDY (late-night shows about "
    "politicians: entertainment by the desk, politics by the words; noise either way), U.S. NEWS, CRIME and WEIRD NEWS "
    "(general desks of mixed topic), MEDIA (the news business, between business and entertainment), CULTURE & ARTS, "
    "ENVIRONMENT and the lifestyle and VOICES sections (none of the labels); its test split is never trained on",
    "The health rule (labels.HEALTH_TERMS, issue 14): AG News has no health class and HuffPost files outbreak and "
    "vaccine news under WORLD NEWS too, so a training row of AG's Sci/Tech or HuffPost's WORLD NEWS, TECH or SCIENCE "
    "whose headline (AG: its whole snippet) names a disease, an epidemic, a vaccine or medicine, a hospital or care, or a "
    "health service is labelled health, as the guidelines' health line says: 154 AG Sci/Tech rows, 114 HuffPost WORLD "
    "NEWS and 3 HuffPost SCIENCE/TECH rows; and a row of AG's World whose snippet names an epidemic, a disease or a "
    "vaccine (labels.EPIDEMIC_TERMS: no hospital or patient words, which close AG's war news, world by the health | world "
    "line) is health by the same line: 70 rows (bird flu, polio, the 2004 flu vaccine shortage, Darfur's disease toll). A "
    "word rule over every row of those sections, written before it was "
    "measured, never an article picked by hand; politics and business rows are left alone (there the guidelines turn on "
    "a political fight or a company's money, which a word list cannot tell). Evaluation sets keep their published labels",
    "The Guardian 2022 set in ../shared/data/news_recent is not trained on (not openly licensed): evaluation only",
    "news_en: English news articles of all seven labels from invented outlets of ten countries, 2019-26 in setting, "
    "written and labelled by the copydesk developers (tasks/classification/data/README.md); its separate test file is never trained on. "
    "Labelled to the label guidelines below: 29 rows whose writers' brief disagreed with them were relabelled by two rules "
    "stated before any score (a club's, league's or competition's money is sports: 18 rows from business; a regulator's or "
    "court's ruling on a company is business: 11 rows from scitech; listed in the data README)",
]


#: The leave-one-outlet-out table of this recipe, as measured (copied into the card; the table is
#: not computed by the rebuild: about 15 minutes).
LEAVE_ONE_OUTLET_OUT = [
    "Trained on every other outlet, scored on the one left out, as the stage scores it (English texts with the "
    "encoder's blend, German texts with the second encoder's), world and politics as one class; full texts / first 40 "
    "words. Measured 2026-12-02 with this recipe and data (model 153fc8d6d09b) by `.venv/bin/python bench/classify.py "
    "--loo-only` (fold models, linear alone, baseline, one run); the fold models' blend uses this model's calibrated "
    "temperatures (an approximation, worth 0.0003 of macro when measured). Linear = the same fold models without the "
    "encoders; baseline = tuned TF-IDF + LR on the same rows, same run. Before = model 8840aefe4a16's recipe (the health "
    "rule without AG's World section), ours.",
    "",
    "| outlet | n | ours | linear alone | baseline | before |",
    "|---|---|---|---|---|---|",
    "| BBC 2004-05 | 2,198 | 0.9245 / 0.8872 | 0.9249 / 0.8794 | 0.9163 / 0.8530 | 0.9254 / 0.8867 |",
    "| The Guardian 2022 (never trained on) | 1,444 | 0.8490 / 0.7853 | 0.8407 / 0.7597 | 0.8490 / 0.7458 | 0.8476 / 0.7812 |",
    "| 10kGNAD German (test half; the German fold keeps its training half) | 374 | 0.8904 / 0.8102 | 0.8743 / 0.8048 | 0.8075 / 0.7299 | 0.8877 / 0.8075 |",
    "| the developers' written set (relabelled to the guidelines: 29 rows) | 1,452 | 0.9001 / 0.8547 | 0.8561 / 0.8134 | 0.8085 / 0.7383 | 0.8926 / 0.8540 |",
    "| AG News test (short) | 7,600 | 0.7926 / 0.7871 | 0.7562 / 0.7514 | 0.5880 / 0.5728 | 0.7926 / 0.7871 |",
    "| HuffPost (short) | 9,042 | 0.6845 / 0.6843 | 0.5789 / 0.5789 | 0.4903 / 0.4900 | 0.6935 / 0.6935 |",
    "| macro over the four full-length outlets | | **0.8910** | 0.8740 | 0.8453 | 0.8883 |",
    "",
    "Labels under 0.80 on a full-length outlet (ours): the Guardian's scitech 0.585, business 0.768 and world/politics "
    "0.737, the German set's business 0.779. The written set's health is 0.812 (195 of 240; 0.771 before AG's World "
    "section joined the health rule, 0.346 before the rule, 0.017 without the encoder). The issue's targets (macro 0.90, "
    "every label 0.80) are not met. Most of the Guardian's errors are its sections against the guidelines' lines (see "
    "'sections' above): of its world/politics articles scored wrong, 37 came out health (monkeypox, Covid, medical "
    "studies) and 27 business (central-bank rates, inflation, energy supply); of its 22 scitech ones, 14 came out as "
    "the guidelines file them (crypto crashes, a tech giant's tax, unions and return-to-office rows, legal claims: "
    "business; cancer and memory research: health; a football club's future: sports), and by the guidelines about 17 of "
    "its 53 Technology and Science articles are not scitech, so a model that follows them tops out near 0.68 there. "
    "HuffPost's fold (short, not in the macro) loses 0.009 (81 of 9,042 headlines, net) with AG's World rule: 69 of the "
    "headlines it turns wrong now come out health, most of them Covid and vaccine news filed under POLITICS or WORLD NEWS "
    "(mask mandates lifted, case counts: health by the guidelines; vaccine-mandate fights in Congress: politics), and "
    "about 40 move between world/politics and scitech, sports or business (churn: the world class lost 70 rows).",
]

#: Sets scored with world and politics as one class: AG has no politics class, and the held-out
#: set of recent news is scored that way.
WORLD_POLITICS_MERGED = ("ag_news", "news_en")


def shipped_examples() -> list[Example]:
    return [Example(text, label, source) for text, label, source in shipped_training_data()]


def shipped_table() -> EncoderTable:
    """The encoder's word table, a committed input (made by `python -m tasks.classification.build_encoder`)."""
    return EncoderTable.load(SHIPPED_MODEL_DIR / ENCODER_FILE)


def shipped_second_table() -> EncoderTable:
    """The second (German) encoder's word table, a committed input (made by
    `python -m tasks.classification.build_encoder --source use --dims 128 --out tasks/models/topics/encoder_de.npz`)."""
    return EncoderTable.load(SHIPPED_MODEL_DIR / SECOND_ENCODER_FILE)


def build(out_dir: Path, description: list[str] | tuple[str, ...] = (), command: str | None = None) -> TrainingResult:
    """The shipped recipe on the shipped data, saved in out_dir (with a copy of the table when elsewhere)."""
    return train(shipped_examples(), out_dir, description, SOURCE_WEIGHTS, command, shipped_table(), shipped_second_table())


def cross_source(out_dir: Path) -> tuple[TopicModel, list[Example], list[tuple[str, str]]]:
    """The shipped recipe trained without BBC, and every BBC article to score it on: how the model
    does on an outlet it never saw. Returns (model, its training examples, BBC's articles)."""
    examples = [e for e in shipped_examples() if e.source != "bbc_news"]
    model = train(examples, out_dir, (), SOURCE_WEIGHTS, table=shipped_table(), second_table=shipped_second_table()).model
    return model, examples, bbc_news("train") + bbc_news("test")


def evaluate_test_sets(model: TopicModel) -> dict[str, dict]:
    out = {}
    for name, examples in test_sets().items():
        truth = [label for _, label in examples]
        predicted = [as_stage(model, text).label for text, _ in examples]
        mapper = merge_world_politics if name in WORLD_POLITICS_MERGED else same
        out[name] = scores(truth, predicted, mapper)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=SHIPPED_MODEL_DIR)
    args = parser.parse_args(argv)
    result = build(args.out, SHIPPED_DATA_DESCRIPTION, REBUILD_COMMAND)
    print(result.report)
    results = evaluate_test_sets(result.model)
    card = result.card
    card["test_sets"] = {
        name: f"n={r['n']} accuracy {r['accuracy']:.4f} macro-F1 {r['macro_f1']:.4f}" for name, r in results.items()
    }
    card["leave_one_outlet_out"] = LEAVE_ONE_OUTLET_OUT
    card["test_sets_note"] = (
        "ag_news scored with world and politics as one class (AG's World holds politics; AG has no politics class); "
        "bbc_news is the fixed test split less the 27 articles that duplicate training ones; 10kgnad_de is the half "
        "not trained on; news_en is the developer-written test file (world and politics as one class, as the held-out "
        "set of recent news is scored). bench/classify.py prints these with confusion matrices and the TF-IDF + LR baselines. Every text is scored as the stage scores it: with its detected language (English ones with the encoder's blend, German ones with the second encoder's)"
    )
    (args.out / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    (args.out / "MODEL_CARD.md").write_text(card_markdown(card))
    for name, r in results.items():
        print(f"\n{name}: {card['test_sets'][name]}")
        print(format_confusion(r["confusion"]))


if __name__ == "__main__":
    main()
