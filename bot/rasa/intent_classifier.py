"""Rasa's intent classifier for this assistant: meaning first, then spelling.

Rasa's DIET learns only from the words of our ~4,000 examples; on real
customer messages in words no example used it guessed, often with confidence
1.00. This classifier reads each message with knowledge of language that does
not come from our examples: the sentence embedding of Google's multilingual
Universal Sentence Encoder (bot/flows/meaning.py), so "the decoder shows a dark
picture" and "Receiver zeigt nur schwarz" land near "my cable box has no
picture". Character n-grams (TF-IDF of 2-5 letters within words) add what an
embedding misses: brand names, error codes, typos.

A multinomial logistic regression over both gives every intent a probability
that means what it says (a wrong answer no longer gets 1.00), so the
FallbackClassifier's threshold works as intended. The entities come from
bot/rasa/entity_extractor.py.

Persisted as plain arrays and JSON (no pickles). Used in config.yml as
`bot.rasa.intent_classifier.MeaningIntentClassifier`; loaded by the Rasa server.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.flows.meaning import DIMENSIONS, SentenceEncoder
from bot.sentence_requests import (
    REQUEST_CONFIDENCE,
    REQUEST_CONFIDENCE_BY_INTENT,
    REQUEST_INTENTS,
    ranking_with_request,
    request_in_sentences,
    sentences,
)

RANKING_LENGTH = 10


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class MeaningIntentClassifier(IntentClassifier, GraphComponent):
    """Logistic regression over a sentence embedding and character n-grams."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Inverse regularisation strength, chosen by 5-fold cross-validation
            # on our own examples (docs/nlu.md); higher fits the examples closer.
            "C": 16.0,
            "ngram_min": 2,
            "ngram_max": 5,
            "min_df": 2,
            "max_iter": 3000,
            # A request in one sentence of a longer message (bot/sentence_requests.py).
            "request_intents": list(REQUEST_INTENTS),
            "request_confidence": REQUEST_CONFIDENCE,
            "request_confidence_by_intent": dict(REQUEST_CONFIDENCE_BY_INTENT),
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        *,
        vectorizer: Optional[TfidfVectorizer] = None,
        coef: Optional[np.ndarray] = None,
        intercept: Optional[np.ndarray] = None,
        intents: Optional[list[str]] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.encoder = SentenceEncoder()
        self.vectorizer = vectorizer
        self.coef = coef
        self.intercept = intercept
        self.intents = intents or []

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MeaningIntentClassifier:
        return cls(config, model_storage, resource)

    # ------------------------------------------------------------------ training

    def _new_vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(self.config["ngram_min"], self.config["ngram_max"]),
            min_df=self.config["min_df"],
            sublinear_tf=True,
            lowercase=True,
        )

    def _features(self, texts: list[str]) -> csr_matrix:
        assert self.vectorizer is not None
        meaning = csr_matrix(self.encoder.encode(texts))
        return hstack([meaning, self.vectorizer.transform(texts)]).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            return self._resource
        texts = [e.get(TEXT) for e in examples]
        labels = [e.get(INTENT) for e in examples]
        self.vectorizer = self._new_vectorizer().fit(texts)
        model = LogisticRegression(C=self.config["C"], max_iter=self.config["max_iter"])
        model.fit(self._features(texts), labels)
        self.coef = model.coef_.astype(np.float32)
        self.intercept = model.intercept_.astype(np.float32)
        self.intents = [str(name) for name in model.classes_]
        self.persist()
        return self._resource

    def persist(self) -> None:
        assert self.vectorizer is not None and self.coef is not None
        with self._model_storage.write_to(self._resource) as folder:
            np.savez(
                folder / "weights.npz",
                coef=self.coef,
                intercept=self.intercept,
                idf=self.vectorizer.idf_.astype(np.float64),
            )
            vocabulary = {term: int(index) for term, index in self.vectorizer.vocabulary_.items()}
            (folder / "model.json").write_text(
                json.dumps({"intents": self.intents, "vocabulary": vocabulary}),
                encoding="utf-8",
            )

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> MeaningIntentClassifier:
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as folder:
                model = json.loads((folder / "model.json").read_text(encoding="utf-8"))
                with np.load(folder / "weights.npz") as weights:
                    component.coef = weights["coef"]
                    component.intercept = weights["intercept"]
                    idf = weights["idf"]
        except (ValueError, FileNotFoundError):
            return component  # not trained (no intent examples): predicts nothing
        vectorizer = component._new_vectorizer()
        vectorizer.vocabulary_ = model["vocabulary"]
        vectorizer.idf_ = idf
        component.vectorizer = vectorizer
        component.intents = model["intents"]
        component.encoder.load()
        return component

    # ---------------------------------------------------------------- predicting

    def _probabilities(self, texts: list[str]) -> np.ndarray:
        # The two halves of the weights apart: no sparse copy of the dense embedding.
        assert self.vectorizer is not None and self.coef is not None
        meaning_weights = self.coef[:, :DIMENSIONS]
        spelling_weights = self.coef[:, DIMENSIONS:]
        scores = self.encoder.encode(texts) @ meaning_weights.T + self.intercept
        scores += np.asarray(self.vectorizer.transform(texts) @ spelling_weights.T)
        scores -= scores.max(axis=1, keepdims=True)
        probabilities = np.exp(scores)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return probabilities

    def process(self, messages: list[Message]) -> list[Message]:
        if self.coef is None:
            return messages
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return messages
        texts = [m.get(TEXT) for m in todo]
        probabilities = self._probabilities(texts)
        request_intents = tuple(self.config["request_intents"])
        for message, row in zip(todo, probabilities, strict=True):
            order = np.argsort(-row)[:RANKING_LENGTH]
            ranking = [{"name": self.intents[i], "confidence": float(row[i])} for i in order]
            if ranking[0]["name"] not in request_intents:
                # "…restarted it twice. Can you send a tech out?": the ask in the last
                # sentence, not the story around it, says what the customer wants.
                parts = sentences(message.get(TEXT))
                request = parts and request_in_sentences(
                    parts,
                    self._probabilities(parts),
                    self.intents,
                    confidence=float(self.config["request_confidence"]),
                    request_intents=request_intents,
                    confidence_by_intent=dict(self.config["request_confidence_by_intent"]),
                )
                if request:
                    ranking = ranking_with_request(ranking, request)[:RANKING_LENGTH]
                    message.set("request_sentence", request.sentence, add_to_output=True)
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
