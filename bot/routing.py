"""Maps a parsed message (intent, entities, text) to a support domain and request.

The mapping itself lives in ``bot/routing.yml``; this module only loads and applies
it. It depends on the standard library and PyYAML, so both environments import it:
the evaluation scripts in the Rasa environment, and the flow validator (which the
API also runs on every flow edit) and the tests in the API environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from bot.vocabulary import DOMAINS
from bot.vocabulary import REQUEST_KINDS as REQUESTS

DEFAULT_MAPPING_PATH = Path(__file__).with_name("routing.yml")

FROM_ENTITIES = "from_entities"
HINT_KINDS = ("entities", "keywords", "likely")


class Route(NamedTuple):
    """Where a message goes: the support domain and what the customer asks for."""

    domain: str
    request: str


class RoutingConfigError(ValueError):
    """The routing YAML is malformed; the message says where."""


@dataclass(frozen=True)
class IntentRule:
    """How one intent maps to a route."""

    domain: str
    request: str
    hints: tuple[str, ...] = ()
    default: str = "other"


@dataclass(frozen=True)
class RoutingTable:
    """The loaded, validated contents of ``routing.yml``."""

    intents: dict[str, IntentRule]
    unknown_intent: Route
    device_domains: dict[str, str]
    keyword_domains: tuple[tuple[str, re.Pattern[str]], ...]

    def route(
        self,
        intent: str,
        entities: list[dict[str, Any]],
        text: str,
        likely_intents: tuple[str, ...] = (),
    ) -> Route:
        """Returns the route for one parsed message.

        ``likely_intents`` is the NLU's intent ranking without ``nlu_fallback``,
        most likely first; the ``likely`` hint uses it.
        """
        rule = self.intents.get(intent)
        if rule is None:
            return self.unknown_intent
        if rule.domain != FROM_ENTITIES:
            return Route(rule.domain, rule.request)
        for hint in rule.hints:
            if hint == "entities":
                found = self.domain_from_entities(entities)
            elif hint == "keywords":
                found = self.domain_from_keywords(text)
            else:
                found = self.domain_from_likely_intent(likely_intents)
            if found:
                return Route(found, rule.request)
        return Route(rule.default, rule.request)

    def domain_from_likely_intent(self, likely_intents: tuple[str, ...]) -> str | None:
        """The domain of the most likely intent, when that intent names a fault's domain.

        This is the assistant's own best guess after a not-understood message: it
        asks "Is it about ...?" with that domain (api/services/diagnosis.py).
        """
        if not likely_intents:
            return None
        rule = self.intents.get(likely_intents[0])
        if rule is None or rule.domain in (FROM_ENTITIES, "other"):
            return None
        return rule.domain

    def domain_from_entities(self, entities: list[dict[str, Any]]) -> str | None:
        """Returns the domain of the first device entity the table knows, if any."""
        for entity in entities or []:
            if entity.get("entity") != "device":
                continue
            value = str(entity.get("value") or "").strip().lower()
            if value in self.device_domains:
                return self.device_domains[value]
        return None

    def domain_from_keywords(self, text: str) -> str | None:
        """Returns the domain of the first keyword rule that matches ``text``, if any."""
        for domain, pattern in self.keyword_domains:
            if pattern.search(text or ""):
                return domain
        return None


def _check_choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise RoutingConfigError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _parse_intent(name: str, raw: Any) -> IntentRule:
    where = f"intents.{name}"
    if not isinstance(raw, dict):
        raise RoutingConfigError(f"{where}: expected a mapping with domain and request")
    domain = _check_choice(raw.get("domain"), (*DOMAINS, FROM_ENTITIES), f"{where}.domain")
    request = _check_choice(raw.get("request"), REQUESTS, f"{where}.request")
    if domain != FROM_ENTITIES:
        if "hints" in raw or "default" in raw:
            raise RoutingConfigError(f"{where}: hints/default need domain: {FROM_ENTITIES}")
        return IntentRule(domain=domain, request=request)
    hints = raw.get("hints") or []
    if not isinstance(hints, list):
        raise RoutingConfigError(f"{where}.hints: expected a list")
    for hint in hints:
        _check_choice(hint, HINT_KINDS, f"{where}.hints")
    default = _check_choice(raw.get("default", "other"), DOMAINS, f"{where}.default")
    return IntentRule(domain=domain, request=request, hints=tuple(hints), default=default)


def _compile_keywords(raw: Any) -> tuple[tuple[str, re.Pattern[str]], ...]:
    if not isinstance(raw, list):
        raise RoutingConfigError("keyword_domains: expected a list of {domain, patterns}")
    rules = []
    for index, item in enumerate(raw):
        where = f"keyword_domains[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("patterns"), list):
            raise RoutingConfigError(f"{where}: expected a mapping with domain and patterns")
        domain = _check_choice(item.get("domain"), DOMAINS, f"{where}.domain")
        for pattern in item["patterns"]:
            try:
                compiled = re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.IGNORECASE)
            except re.error as exc:
                raise RoutingConfigError(f"{where}: bad pattern {pattern!r}: {exc}") from exc
            rules.append((domain, compiled))
    return tuple(rules)


def parse_table(data: Any) -> RoutingTable:
    """Validates the parsed YAML and builds a routing table from it."""
    if not isinstance(data, dict) or not isinstance(data.get("intents"), dict):
        raise RoutingConfigError("top level: expected a mapping with an 'intents' mapping")
    intents = {name: _parse_intent(name, raw) for name, raw in data["intents"].items()}
    unknown = data.get("unknown_intent") or {"domain": "other", "request": "other"}
    unknown_route = Route(
        _check_choice(unknown.get("domain"), DOMAINS, "unknown_intent.domain"),
        _check_choice(unknown.get("request"), REQUESTS, "unknown_intent.request"),
    )
    devices = data.get("device_domains") or {}
    if not isinstance(devices, dict):
        raise RoutingConfigError("device_domains: expected a mapping of device -> domain")
    device_domains = {
        str(device).lower(): _check_choice(domain, DOMAINS, f"device_domains.{device}")
        for device, domain in devices.items()
    }
    return RoutingTable(
        intents=intents,
        unknown_intent=unknown_route,
        device_domains=device_domains,
        keyword_domains=_compile_keywords(data.get("keyword_domains") or []),
    )


def load_table(path: str | Path = DEFAULT_MAPPING_PATH) -> RoutingTable:
    """Reads and validates a routing YAML file."""
    with open(path, encoding="utf-8") as handle:
        return parse_table(yaml.safe_load(handle))


@lru_cache(maxsize=1)
def default_table() -> RoutingTable:
    """The project's routing table, loaded once."""
    return load_table(DEFAULT_MAPPING_PATH)


def route(
    intent: str, entities: list[dict[str, Any]], text: str, likely_intents: tuple[str, ...] = ()
) -> Route:
    """Maps a parsed message to a route using ``bot/routing.yml``."""
    return default_table().route(intent, entities, text, likely_intents)
