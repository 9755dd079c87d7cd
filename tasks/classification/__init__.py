"""Topic and language classification: features, model, training, evaluation data (issue 4).

Inference needs numpy only (`topics.TopicModel`); training uses scikit-learn (`training`).
"""
