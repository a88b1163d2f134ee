"""The plan's and the measured speed in a customer's words (bot/flows/speeds.py)."""

from __future__ import annotations

import pytest

from bot.flows.speeds import speed_words, speeds_in


@pytest.mark.parametrize(
    ("text", "plan", "measured"),
    [
        ("paying for 500 Mbps and speedtest shows 12", 500, 12),
        ("paying for 500mbps and speedtest shows 12", 500, 12),
        ("I pay for 100 mbps, speedtest says 92 mbps but netflix buffers", 100, 92),
        ("got 20 mbps on a 100 mbps plan", 100, 20),
        ("we have a 1 gbit plan and speedtest shows 300", 1000, 300),
        ("paying 80 euros for 500 mbps and only get 12", 500, 12),
        ("Tarif 250 Mbit, Speedtest zeigt 20", 250, 20),
        # The plan word follows the measured speed and comes before the plan's.
        ("about 20 mbps, plan is 300", 300, 20),
        ("ungefähr 15 Mbit, gebucht sind 100", 100, 15),
        # What it should be, said with "instead of".
        ("ok, 5 Mbit statt 100", 100, 5),
        ("Speedtest zeigt 20 Mbit statt 250", 250, 20),
        ("12 mbps vs 500 promised", 500, 12),
        ("Ich zahle für 250 Mbit/s und der Speedtest zeigt nur 20 Mbit/s", 250, 20),
        ("Ich zahle für 250 Mbit und bekomme beim Speedtest gerade mal 20", 250, 20),
        # No unit and no word for speed, but one is paid for and the other is got.
        ("my internet is super slow, paying for 500 but getting like 30", 500, 30),
        ("ich zahle für 250 und bekomme nur 20", 250, 20),
        # Other numbers in a long message, with no unit and no word of speed: left out.
        (
            "So I've been a customer for 12 years and honestly I'm fed up. Every evening "
            "around 7 the internet gets super slow. Speedtest says 8 Mbps and I pay for 100.",
            100,
            8,
        ),
        ("Jeden Abend gegen 8 ruckelt alles, Speedtest zeigt 6 Mbit, gebucht sind 50", 50, 6),
    ],
)
def test_both_speeds_are_found(text: str, plan: float, measured: float) -> None:
    found = speeds_in(text)
    assert found is not None, text
    assert (found.plan, found.measured) == (plan, measured)


@pytest.mark.parametrize(
    "text",
    [
        "Netflix keeps buffering, speed test says 8 Mbps",  # one speed: the plan is unknown
        "speedtest says 4 down and 0.5 up",  # two speeds, neither the plan's
        "it is slow after 7pm, for 2 hours now",  # no speeds at all
        "internet ist seit 3 Tagen langsam",
        "paying 100 for 3 rooms and it's slow",  # two numbers, only one of them paid for
        "we have 2 kids and 3 laptops online",
    ],
)
def test_no_guess_without_both_speeds(text: str) -> None:
    assert speeds_in(text) is None


def test_speeds_read_as_the_customer_writes_them() -> None:
    assert speed_words(12) == "12 Mbit/s"
    assert speed_words(1000) == "1 Gbit/s"
    assert speed_words(0.5, "de") == "0,5 Mbit/s"
