"""Questions a customer asks the assistant itself, read from one message.

"Hello? Is anyone there?" asks whether anyone answers; "what can you do?",
„Bist du ein Mensch?“ ask what the assistant is. Neither is a problem to
diagnose, and neither, on its own, asks for a person. Plain Python with no Rasa
import; the chat requests and the diagnosis service decide what to answer.
"""

from __future__ import annotations

import re

# "Hello? Is anyone there?": asks whether anyone answers, not for a person yet.
ANYONE_THERE = re.compile(
    r"\b(is|are)\s+(any\s?(one|body)|some\s?(one|body)|you)\s+(there|here|online|around)\b"
    r"|\b(any\s?(one|body)|some\s?(one|body))\s+(there|here|home|online|around)\b"
    r"|\bist\s+(da|hier)\s+(jemand|wer|einer)\b|\b(jemand|wer|einer)\s+(da|hier|online)\b"
    r"|\bhört\s+(mich|uns)\s+(jemand|wer)\b|\bhallo\s*\?+\s*$",
    re.IGNORECASE,
)
# Longer than this, the message says more than "is anyone there?".
ANYONE_THERE_WORDS = 6

# "What can you do?", "who are you?", „Wobei kannst du mir helfen?“: a question about
# the assistant itself, not one it cannot answer.
ABOUT_THE_ASSISTANT = re.compile(
    r"\b(?:what (?:can|do) you do(?! about)|what can you help(?: me)? with|how can you help|"
    r"what are you|who are you|are you an? (?:bot|robot|human|real person|ai|person)|"
    r"was (?:kannst du|können sie|machst du)|wobei (?:kannst du|können sie)(?: mir)? helfen|"
    r"wie (?:kannst du|können sie) mir helfen|wer bist du|wer sind sie|was bist du|"
    r"(?:bist du|sind sie) ein (?:bot|roboter|mensch))\b",
    re.IGNORECASE,
)
# Longer than this, the question about the assistant comes with more to say.
ABOUT_THE_ASSISTANT_WORDS = 12

# "Are you a bot? I want to talk to a person": asking for a person after all.
WANTS_A_PERSON = re.compile(
    r"\b(?:want|need|talk to|speak to|speak with|connect me|get me|give me|"
    r"möchte|will|verbinden|sprechen|reden)\b",
    re.IGNORECASE,
)


def asks_if_anyone_is_there(text: str) -> bool:
    """ "Hello? Is anyone there?", „Ist da jemand?“: nothing but the question."""
    return len(text.split()) <= ANYONE_THERE_WORDS and ANYONE_THERE.search(text) is not None


def asks_what_i_can_do(text: str) -> bool:
    """The message asks what the assistant is or can do, and not for a person."""
    return (
        len(text.split()) <= ABOUT_THE_ASSISTANT_WORDS
        and ABOUT_THE_ASSISTANT.search(text) is not None
        and WANTS_A_PERSON.search(text) is None
    )
