"""An NLU featurizer that gives Rasa knowledge of language beyond our examples.

Rasa's own featurizers only know the words of `data/nlu`: a customer who
writes "my decoder box shows a dark picture" in words no example used is
understood by luck. This component adds, for every message, the sentence
embedding of the multilingual Universal Sentence Encoder (bot/flows/meaning.py),
trained by Google on billions of sentences in 16 languages. DIET sees it as a
dense sentence feature next to the word and character counts, so messages
that mean the same land close together whatever words they use, in German as
in English.

Used in config.yml as `bot.sentence_featurizer.MultilingualSentenceFeaturizer`;
loaded by the Rasa server, not by the API.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import ACTION_TEXT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.flows.meaning import shared_encoder

BATCH = 64


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class MultilingualSentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a 512-dimensional sentence feature to each message's text."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config()}

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self.encoder = shared_encoder()
        self.encoder.load()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MultilingualSentenceFeaturizer:
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Only user texts: action texts of stories are not understood by NLU here.
        messages = [m for m in training_data.training_examples if m.get(TEXT)]
        for start in range(0, len(messages), BATCH):
            self._featurize(messages[start : start + BATCH])
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize([m for m in messages if m.get(TEXT) and not m.get(ACTION_TEXT)])
        return messages

    def _featurize(self, messages: list[Message]) -> None:
        if not messages:
            return
        vectors = self.encoder.encode([m.get(TEXT) for m in messages])
        for message, vector in zip(messages, vectors, strict=True):
            self.add_features_to_message(
                sequence=None,
                sentence=np.asarray(vector, dtype=np.float32).reshape(1, -1),
                attribute=TEXT,
                message=message,
            )
