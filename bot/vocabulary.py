"""The words the whole product agrees on: support domains, request kinds, tiers,
skills, owners and flow outcomes.

Pure Python with no imports from Rasa or the API, so both virtualenvs (the API's
and the Rasa server's) can use it. Schemas spell the same values as `Literal`s;
tests/test_vocabulary.py checks that they match these tuples.
"""

from __future__ import annotations

from typing import Literal, get_args

# What a problem is about. Flows belong to one of the problem domains; tickets,
# handoffs and routing also know "other" (not a problem we diagnose).
ProblemDomain = Literal["hardware", "software", "cable", "internet"]
Domain = Literal["hardware", "software", "cable", "internet", "other"]
PROBLEM_DOMAINS: tuple[str, ...] = get_args(ProblemDomain)
DOMAINS: tuple[str, ...] = get_args(Domain)
OTHER = "other"

# What the customer asks for (bot/routing.yml `request:`).
RequestKind = Literal[
    "troubleshoot", "human", "part", "ticket_status", "technician", "complaint", "other"
]
REQUEST_KINDS: tuple[str, ...] = get_args(RequestKind)

# Support tiers: 1 is the assistant and first-line, 2 and 3 are people.
Tier = Literal[1, 2, 3]
TIERS: tuple[int, ...] = get_args(Tier)
AgentTier = Literal[2, 3]
AGENT_TIERS: tuple[int, ...] = get_args(AgentTier)

# What an agent can be routed to: one skill per domain.
Skill = Domain
SKILLS: tuple[str, ...] = DOMAINS

# Who answers a conversation now; while a person has it, the bot is silent.
Owner = Literal["bot", "queued", "agent", "closed"]
OWNERS: tuple[str, ...] = get_args(Owner)

# Staff roles: agents chat with customers, supervisors also manage the desk,
# trainers see flow analytics and the review list but no customer chats.
Role = Literal["agent", "supervisor", "trainer"]
ROLES: tuple[str, ...] = get_args(Role)

# The languages customers and agents chat in (bot/language.py detects them).
Language = Literal["en", "de"]
LANGUAGES: tuple[str, ...] = get_args(Language)
DEFAULT_LANGUAGE = "en"

# How a diagnostic flow ends (bot/flows/model.py, `outcome:` steps).
Outcome = Literal["resolved", "ticket", "part", "visit", "goodwill", "handoff"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)

# Intents that report a problem; bot/routing.yml maps each to its domain.
PROBLEM_INTENTS: tuple[str, ...] = tuple(f"problem_{domain}" for domain in PROBLEM_DOMAINS)
