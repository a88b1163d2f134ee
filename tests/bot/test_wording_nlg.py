"""Rasa's responses in the customer's language, generated in the Rasa server's own environment."""

from __future__ import annotations

import json
import subprocess

import pytest

from api.config import PROJECT_ROOT
from bot import wording

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
ENDPOINT_VARIABLES = (
    "ACTION_ENDPOINT_URL",
    "ACTION_TOKEN",
    "TRACKER_DIALECT",
    "TRACKER_URL",
    "TRACKER_MAX_TURNS",
    "TRACKER_CACHE_SIZE",
)

SCRIPT = """
import asyncio, json, sys
from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

domain = Domain.load("domain.yml")
nlg = NaturalLanguageGenerator.create(read_endpoint_config("bot/endpoints.yml", "nlg"), domain)
said = {}
for language in ("de", "en", None):
    tracker = DialogueStateTracker("t", domain.slots)
    metadata = {"language": language} if language else {}
    tracker.update(UserUttered("hallo", metadata=metadata))
    for name in ("utter_greet", "utter_billing"):
        said[f"{language}:{name}"] = asyncio.run(nlg.generate(name, tracker, "rest"))["text"]
print(json.dumps(said))
"""


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the Rasa environment is not set up")
def test_the_configured_generator_speaks_the_message_language() -> None:
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", SCRIPT],
        cwd=PROJECT_ROOT,
        env={
            "PYTHONPATH": str(PROJECT_ROOT),
            "PATH": "/usr/bin:/bin",
            # bot/endpoints.yml names these; only the `nlg` section is read here.
            **dict.fromkeys(ENDPOINT_VARIABLES, "unused"),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    said = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("utter_greet", "utter_billing"):
        assert said[f"de:{name}"] == wording.say(f"response.{name}", "de")
        assert said[f"en:{name}"] == wording.say(f"response.{name}", "en")
        assert said[f"None:{name}"] == wording.say(f"response.{name}", "en")
