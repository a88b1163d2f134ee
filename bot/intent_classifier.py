"""The intent classifier's import path before it moved to `bot/rasa/`.

A trained model names each of its components by import path, so models trained
before the move ask for `bot.intent_classifier.MeaningIntentClassifier`. This
keeps them loadable; `config.yml` names `bot.rasa.intent_classifier`, so every
model trained since stores the new path. Delete this file once no model trained
before the move is in use.
"""

from bot.rasa.intent_classifier import MeaningIntentClassifier

__all__ = ["MeaningIntentClassifier"]
