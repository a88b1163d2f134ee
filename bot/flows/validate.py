"""The flow validator: `make validate` (or `python -m bot.flows.validate`).

Reports, with file and line, everything that would break a conversation or
confuse a customer, then runs each flow's sample conversations.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import yaml

from bot.flows.choosing import KEYWORD_BONUS, FlowChooser, flow_phrases
from bot.flows.engine import PATTERNS, SLOT_REFERENCE
from bot.flows.loader import FlowCheck, FlowLibrary, flow_files, load_flow_file, read_glossary
from bot.flows.meaning import SentenceEncoder
from bot.flows.model import (
    DOMAINS,
    KNOWN_CHECKS,
    LANGUAGES,
    OUTCOMES,
    Choice,
    Flow,
    FlowFormatError,
    Step,
    Text,
)
from bot.flows.testing import run_all
from bot.routing import default_table

ROOT = Path(__file__).resolve().parents[2]
MAX_MESSAGE_CHARS = 400
MAX_BUTTON_CHARS = 40
# How much better a rival flow must fit one of a flow's examples to be reported.
TAKEN_MARGIN = 0.1
PLACEHOLDERS = re.compile(r"\b(TODO|FIXME|TBD|XXX|lorem ipsum)\b", re.IGNORECASE)


@dataclass
class Finding:
    source: str
    line: Optional[int]
    severity: str  # error | warning
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.severity}: {self.message}"


def domain_intents(domain_file: Path) -> set[str]:
    data = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    intents = set()
    for item in data.get("intents") or []:
        intents.add(next(iter(item)) if isinstance(item, dict) else str(item))
    return intents


def domain_entities(domain_file: Path) -> set[str]:
    data = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    names = set()
    for item in data.get("entities") or []:
        names.add(next(iter(item)) if isinstance(item, dict) else str(item))
    return names


def catalog_parts(catalog_dir: Path) -> Optional[set[str]]:
    if not catalog_dir.is_dir():
        return None
    parts: set[str] = set()
    for path in sorted(catalog_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for part in data.get("parts") or []:
            if isinstance(part, dict) and part.get("part_number"):
                parts.add(str(part["part_number"]))
    return parts


class FlowChecker:
    def __init__(
        self,
        flows: dict[str, Flow],
        intents: set[str],
        parts: Optional[set[str]],
        entities: Optional[set[str]] = None,
    ):
        self.flows = flows
        self.intents = intents
        self.parts = parts
        # Entities `from_message` may name: the language model's, and those the
        # engine recognises by their form.
        self.entities = None if entities is None else entities | set(PATTERNS)
        self.findings: list[Finding] = []

    def error(self, flow: Flow, line: Optional[int], message: str) -> None:
        self.findings.append(Finding(flow.source, line, "error", message))

    def warn(self, flow: Flow, line: Optional[int], message: str) -> None:
        self.findings.append(Finding(flow.source, line, "warning", message))

    def check(self, flow: Flow) -> None:
        for intent in flow.intents:
            if intent not in self.intents:
                self.error(
                    flow,
                    flow.line,
                    f"the trigger intent {intent!r} is not in domain.yml, "
                    "so no customer message can start this flow",
                )
        if flow.start not in flow.steps:
            self.error(
                flow, flow.line, f"`start` names the step {flow.start!r}, which does not exist"
            )
            return
        for step in flow.steps.values():
            self.check_step(flow, step)
        self.check_reachability(flow)
        self.check_tests(flow)

    def check_step(self, flow: Flow, step: Step) -> None:
        for target in step.targets():
            if target not in flow.steps:
                self.error(
                    flow,
                    step.line,
                    f"step {step.id!r} leads to {target!r}, but there is no step with that id",
                )
        if step.kind == "ask_choice":
            if len(step.choices) < 2:
                self.error(
                    flow, step.line, f"step {step.id!r} asks a question with fewer than two choices"
                )
            values = [c.value for c in step.choices]
            if len(values) != len(set(values)):
                self.error(flow, step.line, f"step {step.id!r} has two choices with the same value")
            urgent = [c.value for c in step.choices if c.urgent]
            if len(urgent) > 1:
                self.error(
                    flow,
                    step.line,
                    f"step {step.id!r} marks {', '.join(urgent)} as `urgent`; "
                    "only one choice of a question can come first",
                )
            for choice in step.choices:
                together = set(choice.all_of)
                others = set(values) - {choice.value}
                if choice.all_of and (len(together) < 2 or not together <= others):
                    self.error(
                        flow,
                        choice.line or step.line,
                        f"`all_of` of the choice {choice.value!r} of step {step.id!r} must name "
                        f"two or more other choices of the step; its choices: {', '.join(values)}",
                    )
                if choice.covers and not set(choice.covers) <= others:
                    self.error(
                        flow,
                        choice.line or step.line,
                        f"`covers` of the choice {choice.value!r} of step {step.id!r} must name "
                        f"other choices of the step; its choices: {', '.join(values)}",
                    )
                if not choice.next and not step.next:
                    self.error(
                        flow,
                        step.line,
                        f"the choice {choice.value!r} of step {step.id!r} "
                        "has no `next`, so the conversation would stop "
                        "there",
                    )
                for _, title in _translations(choice.title):
                    if len(title) > MAX_BUTTON_CHARS:
                        self.warn(
                            flow,
                            step.line,
                            f"the button {title!r} is longer than "
                            f"{MAX_BUTTON_CHARS} characters; keep buttons short",
                        )
        if step.kind == "ask_yes_no" and not (step.yes and step.no):
            self.error(
                flow,
                step.line,
                f"step {step.id!r} asks yes/no but does not say where both `yes` and `no` lead",
            )
        if step.kind in ("say", "ask_value") and not step.next:
            self.error(
                flow,
                step.line,
                f"step {step.id!r} is a dead end: it has no `next` and is not an outcome",
            )
        if step.kind == "call" and not step.next and self.returns(step.call or ""):
            self.error(
                flow,
                step.line,
                f"step {step.id!r} calls {step.call!r}, which can return, but has no `next` "
                "to go on with",
            )
        if step.kind == "branch" and not step.otherwise:
            self.error(
                flow,
                step.line,
                f"step {step.id!r} branches but has no `else`, so a "
                "customer who matches no branch would be stuck",
            )
        if step.kind == "check":
            known = KNOWN_CHECKS.get(step.check or "")
            if known is None:
                self.error(
                    flow,
                    step.line,
                    f"step {step.id!r} uses the unknown check "
                    f"{step.check!r}; known checks: "
                    f"{', '.join(sorted(KNOWN_CHECKS))}",
                )
            else:
                for result in step.results:
                    if result != "default" and result not in known:
                        self.error(
                            flow,
                            step.line,
                            f"the check {step.check!r} never answers "
                            f"{result!r}; it answers {', '.join(known)}",
                        )
                if "default" not in step.results and not set(known) <= set(step.results):
                    self.error(
                        flow,
                        step.line,
                        f"step {step.id!r} needs a `default` result for "
                        "the answers it does not list",
                    )
        if step.kind == "call" and step.call not in self.flows:
            self.error(flow, step.line, f"step {step.id!r} calls the unknown flow {step.call!r}")
        if step.kind == "call" and step.call == flow.id:
            self.error(flow, step.line, f"step {step.id!r} calls its own flow")
        if step.kind == "outcome":
            self.check_outcome(flow, step)
        elif step.still_broken:
            self.error(
                flow,
                step.line,
                f"step {step.id!r} has `still_broken`, which only an outcome uses: where the "
                "flow goes on when the customer says it is still not working after it",
            )
        if step.if_not_said and (not step.waits_for_customer or step.from_message is None):
            self.error(
                flow,
                step.line,
                f"step {step.id!r} has `if_not_said`, which only a question with `from_message` "
                "uses: the question is never asked, only answered from the customer's words",
            )
        self.check_from_message(flow, step)
        self.check_wording(flow, step)
        self.check_languages(flow, step)

    def returns(self, flow_id: str) -> bool:
        """Whether the flow can hand back to its caller: it has a `return: true` step (a
        sub-flow it calls returns into it, not further). A customer flow called for a
        choice (the black-screen checks from the picture question) ends with its own
        outcomes."""
        flow = self.flows.get(flow_id)
        return flow is not None and any(step.kind == "return" for step in flow.steps.values())

    def check_languages(self, flow: Flow, step: Step) -> None:
        """Every text in every language of the flow, with the same {placeholders}."""
        texts: list[tuple[str, str, Optional[int]]] = [
            (f"`{key}` of step {step.id!r}", text, step.line)
            for key, text in (
                ("say", step.text),
                ("ask", step.question),
                ("label", step.label),
                ("warning", step.warning),
                ("rephrase", step.rephrase),
            )
        ]
        if step.from_message is not None:
            texts.append((f"`from_message` `say` of step {step.id!r}", step.from_message.say, None))
        if "title" in step.options:  # the customer reads it in their ticket overview
            texts.append((f"`title` of step {step.id!r}", step.options["title"], step.line))
        for choice in step.choices:
            where = f"title of the choice {choice.value!r} of step {step.id!r}"
            texts.append((where, choice.title, choice.line))
            self.check_synonym_languages(flow, step, choice)
        for what, text, line in texts:
            if not text:
                continue
            line = (text.line if isinstance(text, Text) else None) or line or step.line
            written = text.languages if isinstance(text, Text) else frozenset(LANGUAGES)
            missing = [lang for lang in flow.languages if lang not in written]
            if missing:
                self.error(
                    flow,
                    line,
                    f"the {what} has no {'/'.join(missing)} text: write the languages side by "
                    f"side ({{en: …, de: …}})"
                    + (
                        ""
                        if flow.languages_declared
                        else ", or mark the flow as one language only (`languages: [en]`)"
                    ),
                )
            extra = sorted(written - set(flow.languages))
            if extra:
                self.warn(
                    flow,
                    line,
                    f"the {what} has {'/'.join(extra)} text, but the flow says "
                    f"`languages: [{', '.join(flow.languages)}]`; it is never shown",
                )
            if isinstance(text, Text) and len(written) > 1:
                names = {
                    lang: set(SLOT_REFERENCE.findall(text.translations[lang])) for lang in written
                }
                if len({frozenset(v) for v in names.values()}) > 1:
                    listed = "; ".join(
                        f"{lang}: {', '.join(sorted(v)) or 'none'}"
                        for lang, v in sorted(names.items())
                    )
                    self.error(
                        flow,
                        line,
                        f"the {what} fills in different {{placeholders}} per language ({listed})",
                    )

    def check_synonym_languages(self, flow: Flow, step: Step, choice: Choice) -> None:
        given = {lang for lang, words in choice.synonyms_by_language.items() if words}
        if not given:
            return
        for lang in flow.languages:
            if lang not in given:
                self.warn(
                    flow,
                    choice.line or step.line,
                    f"the choice {choice.value!r} of step {step.id!r} has synonyms, but none "
                    f"in {lang}; customers writing {lang} have only its title to match",
                )

    def check_from_message(self, flow: Flow, step: Step) -> None:
        """`from_message` and `rephrase` belong to questions, in the form the kind needs."""
        if step.rephrase and not step.waits_for_customer:
            self.error(flow, step.line, f"step {step.id!r} has `rephrase` but asks nothing")
        spec = step.from_message
        if spec is None:
            return
        if not step.waits_for_customer:
            self.error(
                flow, step.line, f"step {step.id!r} has `from_message` but asks nothing to answer"
            )
            return
        for name in spec.entities:
            if self.entities is not None and name not in self.entities:
                self.error(
                    flow,
                    step.line,
                    f"`from_message` of step {step.id!r} names the entity {name!r}, which the "
                    f"language model does not know (domain.yml); known: "
                    f"{', '.join(sorted(self.entities))}",
                )
        if (spec.yes or spec.no) and step.kind != "ask_yes_no":
            self.error(
                flow,
                step.line,
                f"`from_message` of step {step.id!r} has `yes`/`no` phrases, "
                "but the step is not a yes/no question",
            )
        if step.kind == "ask_yes_no" and not (spec.yes or spec.no or spec.done):
            self.error(
                flow,
                step.line,
                f"`from_message` of the yes/no question {step.id!r} needs `yes`, `no` or "
                "`done` phrases that answer it",
            )
        if spec.done and step.kind != "ask_choice" and not (step.skip or step.no):
            self.error(
                flow,
                step.line,
                f"`from_message` of step {step.id!r} has `done` phrases, but the step has no "
                "`skip` (or `no`) to go to when the customer already did it",
            )
        if spec.done and step.kind == "ask_choice" and not step.skip:
            self.error(
                flow,
                step.line,
                f"`from_message` of step {step.id!r} has `done` phrases, but the step has no "
                "`skip` to go to when the customer already did it",
            )
        if spec.done and step.kind == "ask_value":
            self.error(
                flow,
                step.line,
                f"`from_message` of the free answer {step.id!r} cannot use `done`",
            )
        if step.kind == "ask_yes_no" and spec.entities:
            self.error(
                flow,
                step.line,
                f"`from_message` of the yes/no question {step.id!r} cannot use `entities`",
            )
        if spec.values and step.kind != "ask_value":
            self.error(
                flow,
                step.line,
                f"`from_message` of step {step.id!r} has `values`, which only a free answer uses",
            )
        if spec.speed_ratio is not None:
            values = {c.value for c in step.choices}
            if step.kind != "ask_choice":
                self.error(
                    flow,
                    step.line,
                    f"`from_message` of step {step.id!r} has `speed_ratio`, which only a "
                    "question with choices uses",
                )
            else:
                for value in (spec.speed_ratio.then, spec.speed_ratio.otherwise):
                    if value not in values:
                        self.error(
                            flow,
                            step.line,
                            f"`speed_ratio` of step {step.id!r} names the choice {value!r}, "
                            f"which the step does not have; its choices: {', '.join(values)}",
                        )
        if spec.phrases:
            values = {c.value for c in step.choices}
            if step.kind != "ask_choice":
                self.error(
                    flow,
                    step.line,
                    f"`from_message` of step {step.id!r} has `phrases`, which only a "
                    "question with choices uses",
                )
            for value, _ in spec.phrases:
                if step.kind == "ask_choice" and value not in values:
                    self.error(
                        flow,
                        step.line,
                        f"`phrases` of step {step.id!r} names the choice {value!r}, which the "
                        f"step does not have; its choices: {', '.join(sorted(values))}",
                    )
        if step.kind == "ask_value" and not (spec.entities or spec.values):
            self.error(
                flow,
                step.line,
                f"`from_message` of the free answer {step.id!r} needs `entities` or `values`",
            )
        if step.kind == "ask_yes_no":
            both = {p.lower() for p in spec.yes} & {p.lower() for p in spec.no}
            if both:
                self.error(
                    flow,
                    step.line,
                    f"`from_message` of step {step.id!r} lists {', '.join(sorted(both))!r} "
                    "as both yes and no",
                )

    def check_outcome(self, flow: Flow, step: Step) -> None:
        if step.outcome not in OUTCOMES:
            self.error(
                flow,
                step.line,
                f"step {step.id!r} has the unknown outcome "
                f"{step.outcome!r}; use one of {', '.join(OUTCOMES)}",
            )
        if step.outcome == "handoff" and step.options.get("tier", 2) not in (2, 3):
            self.error(
                flow,
                step.line,
                f"step {step.id!r} hands off to tier {step.options.get('tier')!r}; use 2 or 3",
            )
        if step.outcome == "part":
            part = step.options.get("part")
            if not part:
                self.error(flow, step.line, f"step {step.id!r} orders a part but names no `part`")
            elif self.parts is not None and str(part) not in self.parts:
                self.error(
                    flow,
                    step.line,
                    f"step {step.id!r} orders the unknown part "
                    f"{part!r}; it is not in data/catalog/",
                )

    def check_wording(self, flow: Flow, step: Step) -> None:
        for label, written in (
            ("message", step.text),
            ("question", step.question),
            ("warning", step.warning),
        ):
            if not written:
                continue
            for language, text in _translations(written):
                self.check_text(
                    flow, step, label if language == "en" else f"{language} {label}", text
                )
        for language, question in _translations(step.question):
            if question and not question.rstrip().endswith("?"):
                self.warn(
                    flow,
                    step.line,
                    f"the {'' if language == 'en' else language + ' '}question of step "
                    f"{step.id!r} does not end with '?'; customers may not notice they must answer",
                )

    def check_text(self, flow: Flow, step: Step, label: str, text: str) -> None:
        if len(text) > MAX_MESSAGE_CHARS:
            self.warn(
                flow,
                step.line,
                f"the {label} of step {step.id!r} is {len(text)} "
                f"characters; customers skim, keep it under "
                f"{MAX_MESSAGE_CHARS}",
            )
        if PLACEHOLDERS.search(text):
            self.error(
                flow,
                step.line,
                f"the {label} of step {step.id!r} still has a placeholder (TODO, TBD, …)",
            )
        if text.isupper() and len(text) > 12:
            self.warn(
                flow,
                step.line,
                f"the {label} of step {step.id!r} is all capitals, which reads as shouting",
            )

    def check_reachability(self, flow: Flow) -> None:
        reachable: set[str] = set()
        pending = [flow.start]
        while pending:
            step_id = pending.pop()
            if step_id in reachable or step_id not in flow.steps:
                continue
            reachable.add(step_id)
            pending.extend(flow.steps[step_id].targets())
        for step in flow.steps.values():
            if step.id not in reachable:
                self.error(
                    flow,
                    step.line,
                    f"step {step.id!r} can never be reached from the start step {flow.start!r}",
                )
        # A step from which no outcome (or return) can be reached traps the customer.
        finishing = {s.id for s in flow.steps.values() if s.kind in ("outcome", "return")}
        changed = True
        while changed:
            changed = False
            for step in flow.steps.values():
                if step.id not in finishing and any(t in finishing for t in step.targets()):
                    finishing.add(step.id)
                    changed = True
        for step in flow.steps.values():
            if step.id in reachable and step.id not in finishing and step.targets():
                self.error(
                    flow,
                    step.line,
                    f"step {step.id!r} is in a loop with no way out: no "
                    "outcome can be reached from it",
                )

    def check_defaults(self) -> None:
        """Each domain customers can reach names the one flow that catches vague messages."""
        by_domain: dict[str, list[Flow]] = {}
        for flow in self.flows.values():
            if flow.intents:
                by_domain.setdefault(flow.domain, []).append(flow)
            elif flow.default:
                self.error(
                    flow,
                    flow.line,
                    "`default: true` on a flow no customer message starts (it has no trigger "
                    "intents); put it on one of the domain's customer flows",
                )
        for domain, flows in sorted(by_domain.items()):
            defaults = [f for f in flows if f.default]
            if not defaults:
                first = min(flows, key=lambda f: f.id)
                self.error(
                    first,
                    first.line,
                    f"no {domain} flow says `default: true`: name the flow that should start "
                    f"when a {domain} message is close to none of them",
                )
            for extra in defaults[1:]:
                self.error(
                    extra,
                    extra.line,
                    f"{defaults[0].id} is already the {domain} default; only one flow per "
                    "domain can say `default: true`",
                )
            for flow in flows:
                if not flow.examples:
                    self.warn(
                        flow,
                        flow.line,
                        "no `examples`: the flow is chosen by its title and description "
                        "alone; add a few ways customers describe the problem",
                    )

    def check_overlaps(self) -> None:
        """A trigger intent of another domain makes a flow compete for that domain's
        messages: a hardware flow on `problem_internet` takes internet problems."""
        routes = default_table().intents
        for flow in self.flows.values():
            for intent in flow.intents:
                rule = routes.get(intent)
                if rule is None or rule.domain not in DOMAINS or rule.domain == flow.domain:
                    continue
                rivals = sorted(
                    f.id for f in self.flows.values() if f.domain == rule.domain and f.intents
                )
                self.warn(
                    flow,
                    flow.line,
                    f"the trigger intent {intent!r} is for {rule.domain} problems "
                    f"(bot/routing.yml), but this is a {flow.domain} flow: it would take "
                    f"messages meant for {', '.join(rivals) or f'the {rule.domain} flows'}",
                )

    def check_tests(self, flow: Flow) -> None:
        outcomes = {t.get("expect_outcome") for t in flow.tests}
        if not flow.tests:
            self.warn(flow, flow.line, "the flow has no sample conversations under `tests:`")
            return
        if "resolved" not in outcomes:
            self.warn(
                flow,
                flow.line,
                "no sample conversation shows the customer fixing it "
                "themselves (expect_outcome: resolved)",
            )
        if not outcomes - {"resolved", None}:
            self.warn(
                flow,
                flow.line,
                "no sample conversation shows an escalation (a ticket, "
                "part, visit, goodwill or handoff)",
            )


def _translations(text: str) -> list[tuple[str, str]]:
    """(language, text) for each language a text is written in; plain text as English."""
    if isinstance(text, Text):
        return [(lang, written) for lang, written in text.translations.items() if written]
    return [("en", text)] if text else []


def check_glossary(path: Path) -> list[Finding]:
    """Each glossary term explained in every language the glossary is written in."""
    if not path.exists():
        return []
    try:
        glossary = read_glossary(path)
        declared = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("languages")
    except (FlowFormatError, yaml.YAMLError) as error:
        return [Finding(str(path), getattr(error, "line", None), "error", str(error))]
    languages = tuple(declared or LANGUAGES)
    findings = []
    seen: set[int] = set()
    for term, text in glossary.items():
        if id(text) in seen:
            continue
        seen.add(id(text))
        missing = [lang for lang in languages if lang not in text.languages]
        if missing:
            findings.append(
                Finding(
                    str(path),
                    text.line,
                    "error",
                    f"the term {term!r} has no {'/'.join(missing)} explanation: write the "
                    "languages side by side ({en: …, de: …})",
                )
            )
    return findings


def validate(flows_dir: Path, domain_file: Path, catalog_dir: Path) -> list[Finding]:
    findings: list[Finding] = check_glossary(flows_dir / "_glossary.yml")
    flows: dict[str, Flow] = {}
    for path in flow_files(flows_dir):
        try:
            flow = load_flow_file(path)
        except FlowFormatError as error:
            findings.append(
                Finding(
                    error.source or str(path), error.line, "error", str(error).split(": ", 1)[-1]
                )
            )
            continue
        if flow.id in flows:
            findings.append(
                Finding(
                    str(path),
                    flow.line,
                    "error",
                    f"the flow id {flow.id!r} is already used by {flows[flow.id].source}",
                )
            )
            continue
        flows[flow.id] = flow
    return findings + check_flows(flows, domain_file, catalog_dir)


def check_flows(
    flows: dict[str, Flow],
    domain_file: Path,
    catalog_dir: Path,
    known: Optional[tuple[set[str], Optional[set[str]], set[str]]] = None,
) -> list[Finding]:
    """Everything the validator checks in a set of flows that has been read.

    `known`: the intents, parts and entities, when the caller has read them already.
    """
    intents, parts, entities = known or (
        domain_intents(domain_file),
        catalog_parts(catalog_dir),
        domain_entities(domain_file),
    )
    checker = FlowChecker(flows, intents, parts, entities)
    for flow in flows.values():
        checker.check(flow)
    checker.check_defaults()
    checker.check_overlaps()
    return checker.findings


def messages_taken(library: FlowLibrary, encoder: SentenceEncoder) -> list[Finding]:
    """Warnings where a flow's examples or keywords would take another flow's messages.

    Each example of a customer flow is treated as a customer's message with the
    flow's trigger intent and scored as the flow chooser scores it, the example
    itself left out of its own flow's phrases (a new customer never writes it
    word for word). When a rival flow scores clearly higher (by `TAKEN_MARGIN`),
    customers who mean the first flow would get the rival. Closer calls are
    ordinary between neighbouring flows and are left to `make eval-flows`.
    """
    chooser = FlowChooser(library, encoder)
    findings: list[Finding] = []
    for flow in chooser.customer_flows():
        phrases = flow_phrases(flow)
        vectors = encoder.encode(phrases)
        for index, example in enumerate(phrases[: len(flow.examples)]):
            rest = np.delete(vectors, index, axis=0)
            own = float(np.max(rest @ vectors[index])) if len(rest) else 0.0
            own += (
                KEYWORD_BONUS
                if any(f" {k} " in f" {example.lower()} " for k in flow.keywords)
                else 0.0
            )
            candidates = chooser.candidates(
                intent=flow.intents[0], confidence=1.0, likely_intents=()
            )
            rivals = [f for f in candidates if f.id != flow.id]
            for match in chooser.score(example, rivals):
                if match.score < own + TAKEN_MARGIN:
                    break
                findings.append(
                    Finding(
                        match.flow.source,
                        match.flow.line,
                        "warning",
                        f"takes messages meant for {flow.id}: its example {example!r} "
                        f"({Path(flow.source).name}) would start this flow, "
                        f"{match.explain()}, against {own:.2f} for {flow.id}",
                    )
                )
                break
    return findings


def flow_errors(domain_file: Path, catalog_dir: Path) -> FlowCheck:
    """The validator's errors, for the running assistant: a set of flows with any of
    them is not loaded, and the last good set stays live (`FlowLibrary(check=…)`)."""

    read: dict[str, Any] = {}

    def known() -> tuple[set[str], Optional[set[str]], set[str]]:
        """domain.yml and the catalogue, read again only when one of them changed."""
        files = [domain_file, *sorted(catalog_dir.glob("*.yml"))]
        stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        if read.get("stamp") != stamp:
            read["stamp"] = stamp
            read["known"] = (
                domain_intents(domain_file),
                catalog_parts(catalog_dir),
                domain_entities(domain_file),
            )
        return read["known"]

    def errors(flows: dict[str, Flow]) -> list[str]:
        findings = check_flows(flows, domain_file, catalog_dir, known())
        return [str(f) for f in findings if f.severity == "error"]

    return errors


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Validate the diagnostic flows.")
    parser.add_argument("--flows", type=Path, default=ROOT / "data" / "flows")
    parser.add_argument("--domain", type=Path, default=ROOT / "domain.yml")
    parser.add_argument("--catalog", type=Path, default=ROOT / "data" / "catalog")
    parser.add_argument("--no-tests", action="store_true", help="skip the sample conversations")
    parser.add_argument(
        "--no-meaning",
        action="store_true",
        help="skip the check by meaning (examples that would start another flow)",
    )
    args = parser.parse_args(argv)

    findings = validate(args.flows, args.domain, args.catalog)
    errors = [f for f in findings if f.severity == "error"]
    library = FlowLibrary(args.flows)
    library.reload()
    if not errors and not args.no_meaning:
        findings += messages_taken(library, SentenceEncoder())
    for finding in findings:
        print(finding)
    failed_tests = 0
    if not errors and not args.no_tests:
        results = asyncio.run(run_all(library))
        for result in results:
            if not result.passed:
                failed_tests += 1
                for problem in result.problems:
                    print(f"{result.flow_id}: test {result.name!r} failed: {problem}")
        print(f"{len(results) - failed_tests} flow tests passed, {failed_tests} failed")
    flows = len(flow_files(args.flows))
    print(
        f"{flows} flow files checked: {len(errors)} errors, {len(findings) - len(errors)} warnings"
    )
    return 1 if errors or failed_tests else 0


if __name__ == "__main__":
    sys.exit(main())
