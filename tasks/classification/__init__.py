"""Topic and language classification: features, model, training, evaluation data.

Inference needs numpy only (`topics.TopicModel`); training uses scikit-learn (`training`).
"""
