"""The flow engine's own sentences, in every language a conversation can have.

The flows' texts are written in the flow files; these are the few sentences the
engine adds around them (asking again, going back, "Safety first"). Each has
an `en` and a `de` text with `{placeholders}`.
"""

from __future__ import annotations

from bot.flows.model import DEFAULT_LANGUAGE

ENGINE_TEXTS: dict[str, dict[str, str]] = {
    "safety_first": {
        "en": "⚠️ Safety first: {warning}",
        "de": "⚠️ Sicherheit geht vor: {warning}",
    },
    "yes": {"en": "Yes", "de": "Ja"},
    "no": {"en": "No", "de": "Nein"},
    "taken_from_message": {
        "en": 'You already told me "{words}", so I\'ve taken that as: {answer}.',
        "de": "Sie hatten schon „{words}“ geschrieben, daher habe ich das so verstanden: {answer}.",
    },
    "if_wrong": {
        "en": "If that's not right, just say so.",
        "de": "Falls das nicht stimmt, sagen Sie es einfach.",
    },
    "from_your_message": {
        "en": "{answer} (from the customer's message)",
        "de": "{answer} (aus der Nachricht des Kunden)",
    },
    "already_tried": {"en": "already tried", "de": "schon versucht"},
    "skip_it": {"en": "Thanks, then let's skip that.", "de": "Danke, dann überspringen wir das."},
    "start_again": {
        "en": "No problem, let's start again from the beginning.",
        "de": "Kein Problem, dann fangen wir noch einmal von vorn an.",
    },
    "first_question": {
        "en": "We're at the first question already.",
        "de": "Wir sind schon bei der ersten Frage.",
    },
    "went_back": {
        "en": "Sure, let's go back one step.",
        "de": "Gern, wir gehen einen Schritt zurück.",
    },
    "corrected": {
        "en": "Sorry, I got that wrong. Let me ask you instead.",
        "de": "Entschuldigung, da habe ich Sie falsch verstanden. Ich frage lieber nach.",
    },
    "a_person_takes_over": {
        "en": "I'm sorry I keep misunderstanding you. I'm passing you to a person, "
        "who will see everything we've covered so far.",
        "de": "Es tut mir leid, dass ich Sie immer wieder falsch verstehe. Ich gebe Sie an "
        "eine Mitarbeiterin oder einen Mitarbeiter weiter, die alles sehen, was wir "
        "bisher besprochen haben.",
    },
    "still_not_sure": {
        "en": "I'm still not sure I understand. {question}{follow}",
        "de": "Ich bin noch nicht sicher, ob ich Sie richtig verstehe. {question}{follow}",
    },
    "pick_or_person": {
        "en": " Please pick one of these, or talk to a person.",
        "de": " Bitte wählen Sie eine der Antworten, oder sprechen Sie mit einem Menschen.",
    },
    "yes_no_or_person": {
        "en": " Please tap Yes or No, or talk to a person.",
        "de": " Bitte tippen Sie auf Ja oder Nein, oder sprechen Sie mit einem Menschen.",
    },
    "type_or_person": {
        "en": " Please type just that, or talk to a person.",
        "de": " Bitte schreiben Sie nur das, oder sprechen Sie mit einem Menschen.",
    },
    "did_not_catch": {
        "en": "Sorry, I didn't catch that. {question}",
        "de": "Entschuldigung, das habe ich nicht verstanden. {question}",
    },
    "pick_best": {
        "en": " Just pick the one that fits best, or say it in a few words.",
        "de": " Wählen Sie einfach, was am besten passt, oder beschreiben Sie es in "
        "ein paar Worten.",
    },
    "yes_or_no_enough": {
        "en": " A simple yes or no is enough.",
        "de": " Ein einfaches Ja oder Nein genügt.",
    },
    "type_as_you_see_it": {
        "en": " Please type just that, as you see it.",
        "de": " Bitte schreiben Sie nur das, so wie Sie es sehen.",
    },
    "term_explained": {"en": "{term}: {explanation}", "de": "{term}: {explanation}"},
    "diagnosis": {"en": "Diagnosis: {title}", "de": "Diagnose: {title}"},
    "no_steps": {
        "en": "- No diagnostic steps were completed.",
        "de": "- Es wurden keine Diagnoseschritte abgeschlossen.",
    },
}


def engine_text(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The engine's sentence `key` in `language` (English when not written in it)."""
    texts = ENGINE_TEXTS[key]
    template = texts.get(language) or texts[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template
