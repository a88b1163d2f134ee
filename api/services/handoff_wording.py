"""What the customer is told around a hand-back and while waiting for a person.

One place for these sentences, each in English and German, keyed like the
wording catalogue (`key -> {en, de}` with `{placeholders}`), so they move into
it unchanged.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "de")

TEXTS: dict[str, dict[str, str]] = {
    "handback.continue": {
        "en": "{agent_name} handed you back to the assistant. Let's carry on where we left off:",
        "de": "{agent_name} hat Sie an den Assistenten zurückgegeben. Machen wir dort weiter, "
        "wo wir aufgehört haben:",
    },
    "handback.topic": {
        "en": "{agent_name} handed you back to the assistant. If {topic} still isn't working, "
        "just tell me. Is there anything else I can help with?",
        "de": "{agent_name} hat Sie an den Assistenten zurückgegeben. Falls {topic} noch nicht "
        "funktioniert, sagen Sie es mir einfach. Kann ich sonst noch etwas für Sie tun?",
    },
    "handback.anything_else": {
        "en": "{agent_name} handed you back to the assistant. Is there anything else I can "
        "help with?",
        "de": "{agent_name} hat Sie an den Assistenten zurückgegeben. Kann ich sonst noch etwas "
        "für Sie tun?",
    },
    "handback.still_broken": {
        "en": "I'm sorry {topic} still isn't working. {agent_name} and I have already been "
        "through the usual checks, so the best next step is a person again. They will see "
        "everything, including what {agent_name} tried.",
        "de": "Es tut mir leid, dass {topic} immer noch nicht funktioniert. {agent_name} und ich "
        "haben die üblichen Prüfungen schon gemacht, deshalb hilft jetzt am besten wieder ein "
        "Mensch. Er sieht alles, auch was {agent_name} versucht hat.",
    },
    "queue.still_waiting": {
        "en": "Thanks, the agent will see your message. You are {place}.",
        "de": "Danke, unser Team sieht Ihre Nachricht. Sie sind {place}.",
    },
    "queue.place_next": {"en": "next in line", "de": "als Nächstes an der Reihe"},
    "queue.place_number": {
        "en": "number {position} in the queue",
        "de": "auf Platz {position} der Warteschlange",
    },
    "queue.nobody_online": {
        "en": "Thanks, your message is kept for the next agent. No agent who can take this chat "
        "is online right now; you can wait here or ask for a call back.",
        "de": "Danke, Ihre Nachricht wird für die nächste Person aufbewahrt. Gerade ist niemand "
        "online, der diesen Chat übernehmen kann; Sie können hier warten oder um einen "
        "Rückruf bitten.",
    },
    "topic.internet": {"en": "your internet", "de": "Ihr Internet"},
    "topic.cable": {"en": "your cable TV", "de": "Ihr Kabelfernsehen"},
    "topic.hardware": {"en": "your device", "de": "Ihr Gerät"},
    "topic.software": {"en": "the software", "de": "die Software"},
    "topic.other": {"en": "it", "de": "es"},
}


def text(key: str, language: str = "en", **values: Any) -> str:
    """The sentence for `key` in the language (English if there is none), filled in."""
    texts = TEXTS[key]
    return texts.get(language if language in LANGUAGES else "en", texts["en"]).format(**values)
