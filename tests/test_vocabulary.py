"""The vocabulary is spelled out once, in bot/vocabulary.py, and used everywhere."""

from __future__ import annotations

from typing import get_args

from api.models import ConversationOwner
from api.schemas import agents as agent_schemas
from api.schemas import tickets as ticket_schemas
from api.services import agents, tickets
from api.services.diagnosis import INTENT_DOMAINS
from bot import routing, vocabulary
from bot.flows import model


def test_schemas_accept_exactly_the_vocabulary() -> None:
    assert get_args(ticket_schemas.Domain) == vocabulary.DOMAINS
    assert get_args(ticket_schemas.Tier) == vocabulary.TIERS
    assert get_args(agent_schemas.Skill) == vocabulary.SKILLS
    assert get_args(agent_schemas.AgentTier) == vocabulary.AGENT_TIERS


def test_services_flows_and_routing_use_the_vocabulary() -> None:
    assert tickets.DOMAINS is vocabulary.DOMAINS
    assert agents.SKILLS is vocabulary.SKILLS
    assert model.DOMAINS is vocabulary.PROBLEM_DOMAINS
    assert model.OUTCOMES is vocabulary.OUTCOMES
    assert routing.DOMAINS is vocabulary.DOMAINS
    assert routing.REQUESTS is vocabulary.REQUEST_KINDS
    assert tuple(owner.value for owner in ConversationOwner) == vocabulary.OWNERS


def test_the_problem_intents_domains_come_from_routing_yml() -> None:
    table = routing.default_table()
    assert INTENT_DOMAINS == {
        intent: table.intents[intent].domain for intent in vocabulary.PROBLEM_INTENTS
    }
    assert set(INTENT_DOMAINS.values()) == set(vocabulary.PROBLEM_DOMAINS)
