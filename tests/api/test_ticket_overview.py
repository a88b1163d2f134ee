"""A customer reads their tickets' titles in their own language; staff keep the English."""

from __future__ import annotations

from api.services import catalog
from api.services.ticket_overview import title_in
from bot.flows.loader import FlowLibrary
from bot.wording import say
from tests.conftest import FLOWS_DIR


def test_a_flow_outcome_title_is_shown_in_german() -> None:
    titles = FlowLibrary(FLOWS_DIR).ticket_titles()
    stored = "TV box gets no power; replacement box needed"
    assert title_in(stored, "en", titles) == stored
    assert title_in(stored, "de", titles) == "Receiver bekommt keinen Strom; Ersatzgerät nötig"


def test_every_ticket_title_a_flow_writes_has_german() -> None:
    titles = FlowLibrary(FLOWS_DIR).ticket_titles()
    assert len(titles) > 80
    untranslated = [t for t in titles if title_in(t, "de", titles) == t]
    assert not untranslated, untranslated


def test_titles_from_the_wording_catalogue_are_shown_in_german() -> None:
    assert title_in("Technician visit", "de", {}) == "Techniker-Termin"
    assert title_in("Replacement part requested", "de", {}) == "Ersatzteil angefragt"
    assert title_in("Internet problem reported in chat", "de", {}).startswith("Problem (")


def test_a_title_nobody_wrote_is_shown_as_stored() -> None:
    assert title_in("Printer on fire", "de", {}) == "Printer on fire"


def test_a_part_order_s_ticket_title_reads_in_german() -> None:
    part = next(iter(catalog.parts().values()))
    stored = say("record.part_title", part=part.name)
    german = title_in(stored, "de", {})
    assert german == f"Ersatzteil: {part.name_in('de')}"
    assert title_in(stored, "en", {}) == stored
