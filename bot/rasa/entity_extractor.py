"""Rasa's CRF entity extractor, saved as trained instead of retrained on every load.

The entities (devices, brands, light colours and states, error codes, ticket
ids, terms) come from a conditional random field over each word's spelling
and its neighbours' (Rasa's `CRFEntityExtractor`, with the RegexFeaturizer's
marks from data/nlu/entities.yml). Rasa 3.6 saves only the CRF's training
data and trains it again every time the model is loaded, which took about
15 s of every Rasa start here. This extractor also saves the trained taggers
in CRFsuite's own file format (no pickles) and loads them as they are; what it
predicts is Rasa's. `scripts/check_rasa_tuning.py` (run by `make test`) parses
every training example with Rasa's retraining load and with this one, and
requires identical entities.

Used in config.yml as `bot.rasa.entity_extractor.PersistedCRFEntityExtractor`.
"""

from __future__ import annotations

import json
import shutil
from collections import OrderedDict
from typing import Any

import sklearn_crfsuite
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken

ORDER_FILE = "crf_order.json"


def tagger_file(tag_name: str) -> str:
    """The file one trained tagger (entity, role or group) is saved in."""
    return f"crf_tagger_{tag_name}.crfsuite"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class PersistedCRFEntityExtractor(CRFEntityExtractor):
    """Saves the trained CRF taggers with the model and loads them without training."""

    # `scripts/check_rasa_tuning.py` turns this off to load the way Rasa does
    # (training again from the saved data) and compare the entities.
    load_saved_taggers = True

    def persist(self, dataset: list[list[CRFToken]]) -> None:
        # Rasa's files (the training data and the order of the taggers), so the
        # model can still be loaded the stock way, and the taggers as trained.
        super().persist(dataset)
        with self._model_storage.write_to(self._resource) as folder:
            for tag_name, tagger in (self.entity_taggers or {}).items():
                shutil.copyfile(tagger.modelfile.name, folder / tagger_file(tag_name))

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CRFEntityExtractor:
        if not cls.load_saved_taggers:
            return super().load(config, model_storage, resource, execution_context, **kwargs)
        try:
            with model_storage.read_from(resource) as folder:
                crf_order = json.loads((folder / ORDER_FILE).read_text(encoding="utf-8"))
                taggers: OrderedDict[str, sklearn_crfsuite.CRF] = OrderedDict()
                for tag_name in crf_order:
                    path = folder / tagger_file(tag_name)
                    tagger = sklearn_crfsuite.CRF(model_filename=str(path))
                    # CRFsuite reads the whole file now, while the model's folder exists.
                    if tagger.tagger_ is None:
                        raise FileNotFoundError(path)
                    taggers[tag_name] = tagger
        except (ValueError, FileNotFoundError):
            # Nothing was trained (no examples with entities): extracts nothing.
            return cls(config, model_storage, resource)
        extractor = cls(config, model_storage, resource, taggers)
        extractor.crf_order = crf_order
        return extractor
