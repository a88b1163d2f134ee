"""Questions about the assistant itself, told apart from problems and from asking for a person."""

import pytest

from bot.questions_to_the_assistant import asks_if_anyone_is_there, asks_what_i_can_do


@pytest.mark.parametrize(
    "text",
    ["Hello? Is anyone there?", "anybody there??", "Hallo?", "Ist da jemand?", "hört mich wer"],
)
def test_is_anyone_there(text):
    assert asks_if_anyone_is_there(text)


@pytest.mark.parametrize(
    "text",
    [
        "is anyone there? my router has been blinking red since this morning",
        "my internet is down",
        "Hallo, mein Fernseher hat kein Bild",
    ],
)
def test_a_message_that_says_more_is_not_only_asking_who_is_there(text):
    assert not asks_if_anyone_is_there(text)


@pytest.mark.parametrize(
    "text",
    [
        "what can you do?",
        "What can you help me with?",
        "Was kannst du alles?",
        "bist du ein mensch?",
    ],
)
def test_questions_about_the_assistant(text):
    assert asks_what_i_can_do(text)


@pytest.mark.parametrize(
    "text",
    [
        "are you a real person? I want to talk to one",
        "Bist du ein Bot? Ich möchte mit einem Menschen sprechen",
        "what can you do about my broken router",
        "what's the weather tomorrow?",
    ],
)
def test_not_a_question_about_the_assistant_alone(text):
    assert not asks_what_i_can_do(text)
