"""Rasa's responses (`utter_*` in domain.yml) in the customer's language.

Loaded by the Rasa server (bot/endpoints.yml, `nlg: type: bot.rasa.wording_nlg...`).
A response with a text in the wording catalogue (data/wording.yml, key
`response.<name>`) is said in the language the API sent with the message
(`metadata.language`); any other response comes from domain.yml as before.
The model does not change, so nothing needs retraining.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import wording


class CatalogueNaturalLanguageGenerator(TemplatedNaturalLanguageGenerator):
    def __init__(
        self, endpoint_config: Optional[EndpointConfig] = None, domain: Optional[Domain] = None
    ) -> None:
        super().__init__((domain or Domain.empty()).responses)
        wording.catalogue()  # a malformed catalogue fails at start-up, not mid-chat

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> Optional[dict[str, Any]]:
        key = f"response.{utter_action}"
        if wording.has(key):
            metadata = tracker.latest_message.metadata if tracker.latest_message else {}
            language = (metadata or {}).get("language", wording.DEFAULT_LANGUAGE)
            return {"text": wording.say(key, language)}
        return await super().generate(utter_action, tracker, output_channel, **kwargs)
