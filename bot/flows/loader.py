"""Reads flow files into `Flow` objects and reloads them when a file changes."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import yaml

from bot.flows.model import (
    DEFAULT_LANGUAGE,
    DOMAINS,
    LANGUAGES,
    SLOT_NAME,
    Choice,
    Condition,
    Flow,
    FlowFormatError,
    FromMessage,
    SpeedRatio,
    Step,
    Text,
)

LINE_KEY = "__line__"


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping.

    It reads `yes`, `no`, `on` and `off` as text (as YAML 1.2 does): flows use
    `yes:` and `no:` as keys, and choices are often called `off`.
    """


_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[LINE_KEY] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml_with_lines(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass


def strip_lines(value: Any) -> Any:
    """The same data without the line markers."""
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k != LINE_KEY}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
    return value


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key, "")
    return "" if value is None else str(value).strip()


def _strings(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    return tuple(str(item) for item in raw)


def parse_text(
    value: Any, *, plain_language: str, source: str, line: Optional[int], what: str
) -> str:
    """A customer-facing text: a plain string (in `plain_language`) or the languages
    side by side, `{en: "…", de: "…"}`. "" when there is none."""
    if value is None:
        return ""
    if isinstance(value, dict):
        line = value.get(LINE_KEY, line)
        translations = {}
        for language, text in value.items():
            if language == LINE_KEY:
                continue
            if language not in LANGUAGES:
                raise FlowFormatError(
                    f"{what}: unknown language {language!r}; use {', '.join(LANGUAGES)}",
                    source=source,
                    line=line,
                )
            if isinstance(text, (dict, list)):
                raise FlowFormatError(
                    f"{what}: the {language} text must be text", source=source, line=line
                )
            translations[str(language)] = "" if text is None else str(text).strip()
        return Text(translations, line=line)
    if isinstance(value, list):
        raise FlowFormatError(f"{what} must be text, not a list", source=source, line=line)
    return Text({plain_language: str(value).strip()}, line=line)


def parse_synonyms(
    raw: Any, *, plain_language: str, source: str, line: Optional[int], what: str
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Synonyms as a list (in `plain_language`) or `{en: [...], de: [...]}`:
    all of them (for matching, since customers mix languages) and by language."""
    if isinstance(raw, dict):
        by_language = {}
        for language, words in raw.items():
            if language == LINE_KEY:
                continue
            if language not in LANGUAGES:
                raise FlowFormatError(
                    f"{what}: unknown language {language!r}; use {', '.join(LANGUAGES)}",
                    source=source,
                    line=raw.get(LINE_KEY, line),
                )
            by_language[str(language)] = _strings(words)
    else:
        by_language = {plain_language: _strings(raw)} if raw else {}
    every = tuple(dict.fromkeys(word for words in by_language.values() for word in words))
    return every, by_language


STEP_KEYS = {
    "id", "label", "say", "ask", "warning", "image", "next", "choices", "yes", "no", "slot",
    "check", "results", "branch", "else", "call", "outcome", "return", "skip", "from_message",
    "rephrase", "still_broken", "if_not_said", LINE_KEY,
}  # fmt: skip
FROM_MESSAGE_KEYS = {
    "entities", "values", "names", "yes", "no", "done", "speed_ratio", "phrases", "say",
    "several", "one_at_a_time", LINE_KEY,
}  # fmt: skip
SPEED_RATIO_KEYS = {"below", "then", "else", LINE_KEY}


def parse_speed_ratio(
    raw: Any, *, step_id: str, source: str, line: Optional[int]
) -> Optional[SpeedRatio]:
    """`speed_ratio: {below: 0.5, then: low, else: fine}`."""
    if raw is None:
        return None
    where = raw.get(LINE_KEY, line) if isinstance(raw, dict) else line
    keys = set(raw) if isinstance(raw, dict) else set()
    if not keys or keys - SPEED_RATIO_KEYS or not {"below", "then", "else"} <= keys:
        raise FlowFormatError(
            f"step {step_id!r}: `speed_ratio` needs `below` (a share of the plan's speed, "
            "e.g. 0.5), `then` and `else` (choice values), and nothing else",
            source=source,
            line=where,
        )
    below = raw["below"]
    if isinstance(below, bool) or not isinstance(below, (int, float)) or not 0 < below <= 1:
        raise FlowFormatError(
            f"step {step_id!r}: `speed_ratio` `below` must be a number above 0 and at most 1, "
            f"e.g. 0.5 for half the plan's speed",
            source=source,
            line=where,
        )
    return SpeedRatio(below=float(below), then=str(raw["then"]), otherwise=str(raw["else"]))


def parse_from_message(
    raw: Any,
    *,
    step_id: str,
    source: str,
    line: Optional[int],
    plain_language: str = DEFAULT_LANGUAGE,
) -> Optional[FromMessage]:
    """`from_message: true`, or a mapping of entities, values, names, yes, no, done,
    speed_ratio, phrases, say, several and one_at_a_time."""
    if raw is None or raw is False:
        return None
    if raw is True:
        return FromMessage()
    if not isinstance(raw, dict):
        raise FlowFormatError(
            f"step {step_id!r}: `from_message` must be `true` or a mapping",
            source=source,
            line=line,
        )
    unknown = set(raw) - FROM_MESSAGE_KEYS
    if unknown:
        raise FlowFormatError(
            f"step {step_id!r}: `from_message` has unknown keys: {', '.join(sorted(unknown))}",
            source=source,
            line=raw.get(LINE_KEY, line),
        )
    return FromMessage(
        entities=_strings(raw.get("entities")),
        values=_strings(raw.get("values")),
        names=parse_name_patterns(
            raw.get("names"), step_id=step_id, source=source, line=raw.get(LINE_KEY, line)
        ),
        yes=_strings(raw.get("yes")),
        no=_strings(raw.get("no")),
        done=_strings(raw.get("done")),
        speed_ratio=parse_speed_ratio(
            raw.get("speed_ratio"), step_id=step_id, source=source, line=raw.get(LINE_KEY, line)
        ),
        phrases=parse_choice_phrases(
            raw.get("phrases"), step_id=step_id, source=source, line=raw.get(LINE_KEY, line)
        ),
        say=parse_text(
            raw.get("say"),
            plain_language=plain_language,
            source=source,
            line=raw.get(LINE_KEY, line),
            what=f"step {step_id!r}: `from_message` `say`",
        ),
        several=parse_text(
            raw.get("several"),
            plain_language=plain_language,
            source=source,
            line=raw.get(LINE_KEY, line),
            what=f"step {step_id!r}: `from_message` `several`",
        ),
        one_at_a_time=parse_slot_name(
            raw.get("one_at_a_time"),
            step_id=step_id,
            source=source,
            line=raw.get(LINE_KEY, line),
        ),
    )


def parse_slot_name(raw: Any, *, step_id: str, source: str, line: Optional[int]) -> str:
    """`one_at_a_time: parts_to_follow`: a slot name, as `{slot}` in texts spells it."""
    if raw is None:
        return ""
    if not isinstance(raw, str) or not SLOT_NAME.fullmatch(raw):
        raise FlowFormatError(
            f"step {step_id!r}: `one_at_a_time` must be a slot name in lower case, "
            f"e.g. parts_to_follow",
            source=source,
            line=line,
        )
    return raw


def parse_name_patterns(
    raw: Any, *, step_id: str, source: str, line: Optional[int]
) -> tuple[str, ...]:
    """`names: ["* app", "*-app"]`: each pattern holds one `*`, where the name stands."""
    patterns = _strings(raw)
    for pattern in patterns:
        if pattern.count("*") != 1 or not pattern.replace("*", "").strip():
            raise FlowFormatError(
                f"step {step_id!r}: `from_message` `names` pattern {pattern!r} needs one `*` "
                'for the name and a word around it, e.g. "* app"',
                source=source,
                line=line,
            )
    return patterns


def parse_choice_phrases(
    raw: Any, *, step_id: str, source: str, line: Optional[int]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`phrases: {choice value: [phrase, …]}`, in the order written."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise FlowFormatError(
            f"step {step_id!r}: `from_message` `phrases` must map choice values to phrases",
            source=source,
            line=line,
        )
    parsed = []
    for value, phrases in raw.items():
        if value == LINE_KEY:
            continue
        if isinstance(phrases, dict):
            # Side by side, {en: [...], de: [...]}: a message is matched against both.
            phrases = [p for key, ps in phrases.items() if key != LINE_KEY for p in _strings(ps)]
        listed = tuple(p for p in _strings(phrases) if p.strip())
        if not listed:
            raise FlowFormatError(
                f"step {step_id!r}: `from_message` `phrases` of {value!r} lists no phrase",
                source=source,
                line=line,
            )
        parsed.append((str(value), listed))
    return tuple(parsed)


OUTCOME_OPTION_KEYS = {"tier", "skill", "priority", "part", "gesture", "reason", "title"}


def parse_step(raw: Any, *, source: str, plain_language: str = DEFAULT_LANGUAGE) -> Step:
    if not isinstance(raw, dict):
        raise FlowFormatError("a step must be a mapping", source=source)
    line = raw.get(LINE_KEY)
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not step_id:
        raise FlowFormatError("a step needs an `id`", source=source, line=line)
    unknown = set(raw) - STEP_KEYS - OUTCOME_OPTION_KEYS
    if unknown:
        raise FlowFormatError(
            f"step {step_id!r} has unknown keys: {', '.join(sorted(unknown))}",
            source=source,
            line=line,
        )

    def text(key: str) -> str:
        return parse_text(
            raw.get(key),
            plain_language=plain_language,
            source=source,
            line=line,
            what=f"step {step_id!r}: `{key}`",
        )

    common: dict[str, Any] = {
        "id": step_id,
        "line": line,
        "text": text("say"),
        "question": text("ask"),
        "label": text("label"),
        "warning": text("warning"),
        "image": _text(raw, "image"),
        "next": raw.get("next"),
        "skip": raw.get("skip"),
        "from_message": parse_from_message(
            raw.get("from_message"),
            step_id=step_id,
            source=source,
            line=line,
            plain_language=plain_language,
        ),
        "rephrase": text("rephrase"),
        "still_broken": raw.get("still_broken"),
        "if_not_said": raw.get("if_not_said"),
    }
    if "outcome" in raw:
        options = {k: raw[k] for k in OUTCOME_OPTION_KEYS if k in raw}
        if "title" in raw:  # stored in English for staff, shown to the customer in theirs
            options["title"] = text("title")
        return Step(kind="outcome", outcome=str(raw["outcome"]), options=options, **common)
    if raw.get("return"):
        return Step(kind="return", **common)
    if "check" in raw:
        results = raw.get("results") or {}
        if not isinstance(results, dict):
            raise FlowFormatError(
                f"step {step_id!r}: `results` must map results to steps", source=source, line=line
            )
        results = {str(k): str(v) for k, v in results.items() if k != LINE_KEY}
        return Step(kind="check", check=str(raw["check"]), results=results, **common)
    if "branch" in raw:
        branches = []
        for item in raw.get("branch") or []:
            condition = item.get("if") if isinstance(item, dict) else None
            if not isinstance(condition, dict) or "slot" not in condition or "then" not in item:
                raise FlowFormatError(
                    f"step {step_id!r}: each branch needs `if: {{slot: …, equals: …}}` and `then`",
                    source=source,
                    line=item.get(LINE_KEY) if isinstance(item, dict) else line,
                )
            branches.append(
                (
                    Condition(
                        slot=str(condition["slot"]),
                        equals=condition.get("equals"),
                        one_of=tuple(condition.get("in") or ()),
                    ),
                    str(item["then"]),
                )
            )
        return Step(kind="branch", branches=tuple(branches), otherwise=raw.get("else"), **common)
    if "call" in raw:
        return Step(kind="call", call=str(raw["call"]), **common)
    if "ask" in raw:
        if "choices" in raw:
            choices = []
            for item in raw.get("choices") or []:
                if not isinstance(item, dict) or "value" not in item:
                    raise FlowFormatError(
                        f"step {step_id!r}: each choice needs a `value`", source=source, line=line
                    )
                value = str(item["value"])
                where = f"step {step_id!r}: choice {value!r}"
                choice_line = item.get(LINE_KEY, line)
                synonyms, by_language = parse_synonyms(
                    item.get("synonyms"),
                    plain_language=plain_language,
                    source=source,
                    line=choice_line,
                    what=f"{where}: `synonyms`",
                )
                choices.append(
                    Choice(
                        value=value,
                        title=parse_text(
                            item.get("title") or value,
                            plain_language=plain_language,
                            source=source,
                            line=choice_line,
                            what=f"{where}: `title`",
                        ),
                        next=item.get("next"),
                        synonyms=synonyms,
                        synonyms_by_language=by_language,
                        all_of=_strings(item.get("all_of")),
                        urgent=item.get("urgent") is True,
                        covers=_strings(item.get("covers")),
                        line=choice_line,
                    )
                )
            return Step(kind="ask_choice", choices=tuple(choices), **common)
        if "yes" in raw or "no" in raw:
            return Step(kind="ask_yes_no", yes=raw.get("yes"), no=raw.get("no"), **common)
        if "slot" in raw:
            return Step(kind="ask_value", slot=str(raw["slot"]), **common)
        raise FlowFormatError(
            f"step {step_id!r}: a question needs `choices`, `yes`/`no` or a `slot`",
            source=source,
            line=line,
        )
    if common["text"]:
        return Step(kind="say", **common)
    raise FlowFormatError(
        f"step {step_id!r} does nothing: give it `say`, `ask`, `check`, "
        "`branch`, `call` or `outcome`",
        source=source,
        line=line,
    )


def parse_flow(document: Any, *, source: str) -> Flow:
    if not isinstance(document, dict) or not isinstance(document.get("flow"), dict):
        raise FlowFormatError("a flow file needs a top-level `flow:` mapping", source=source)
    raw = document["flow"]
    line = raw.get(LINE_KEY)
    for key in ("id", "domain", "title", "start", "steps"):
        if key not in raw:
            raise FlowFormatError(f"the flow needs `{key}`", source=source, line=line)
    if raw["domain"] not in DOMAINS:
        raise FlowFormatError(
            f"domain must be one of {', '.join(DOMAINS)}, not {raw['domain']!r}",
            source=source,
            line=line,
        )
    triggers = raw.get("triggers") or {}
    languages = parse_languages(raw, source=source, line=line)
    plain_language = languages[0] if languages else DEFAULT_LANGUAGE
    steps: dict[str, Step] = {}
    for raw_step in raw["steps"] or []:
        step = parse_step(raw_step, source=source, plain_language=plain_language)
        if step.id in steps:
            raise FlowFormatError(f"duplicate step id {step.id!r}", source=source, line=step.line)
        steps[step.id] = step
    return Flow(
        id=str(raw["id"]),
        domain=str(raw["domain"]),
        title=parse_text(
            raw["title"], plain_language=plain_language, source=source, line=line, what="`title`"
        ),
        description=parse_text(
            raw.get("description"),
            plain_language=plain_language,
            source=source,
            line=line,
            what="`description`",
        ),
        intents=_strings(triggers.get("intents")),
        keywords=tuple(k.lower() for k in _strings(triggers.get("keywords"))),
        devices=_strings(raw.get("devices")),
        start=str(raw["start"]),
        steps=steps,
        examples=_strings(raw.get("examples")),
        default=bool(raw.get("default", False)),
        tests=tuple(strip_lines(t) for t in document.get("tests") or ()),
        source=source,
        line=line,
        languages=languages or LANGUAGES,
        languages_declared=bool(languages),
    )


def parse_languages(raw: dict[str, Any], *, source: str, line: Optional[int]) -> tuple[str, ...]:
    """`languages: [en]` marks a flow as written in those languages only; () when not given."""
    declared = raw.get("languages")
    if declared is None:
        return ()
    languages = _strings(declared)
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown or not languages:
        raise FlowFormatError(
            f"`languages` must list some of {', '.join(LANGUAGES)}, not {declared!r}",
            source=source,
            line=line,
        )
    return tuple(dict.fromkeys(languages))


def read_glossary(path: Path) -> dict[str, Text]:
    """The glossary's terms, each `term: {en: "…", de: "…", also: [other names]}`
    (or plain English text), by every name it goes by, in lower case."""
    raw = read_yaml_with_lines(path) or {}
    source = str(path)
    languages = parse_languages(raw, source=source, line=None)
    plain_language = languages[0] if languages else DEFAULT_LANGUAGE
    glossary: dict[str, Text] = {}
    for term, entry in (raw.get("terms") or {}).items():
        if term == LINE_KEY:
            continue
        also: tuple[str, ...] = ()
        if isinstance(entry, dict):
            also = _strings(entry.get("also"))
            entry = {k: v for k, v in entry.items() if k != "also"}
        text = parse_text(
            entry,
            plain_language=plain_language,
            source=source,
            line=raw["terms"].get(LINE_KEY),
            what=f"the term {term!r}",
        )
        assert isinstance(text, Text)
        for name in (str(term), *also):
            glossary[name.lower()] = text
    return glossary


def load_flow_file(path: Path) -> Flow:
    try:
        document = read_yaml_with_lines(path)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise FlowFormatError(
            f"not valid YAML: {getattr(error, 'problem', error)}",
            source=str(path),
            line=mark.line + 1 if mark else None,
        ) from error
    return parse_flow(document, source=str(path))


# Checks a complete set of flows and returns its errors, each with file and line
# (bot/flows/validate.py: `flow_errors`).
FlowCheck = Callable[[dict[str, Flow]], list[str]]


def flow_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yml") if not p.name.startswith("_"))


class FlowLibrary:
    """All flows of a folder, reloaded automatically when a file changes.

    A broken edit never takes the assistant down: the last good set of flows
    stays in use and the error is kept in `last_error` for the operator (every
    error in `errors`). With a `check` (the validator's checks), a set of flows
    with a logic error (a step leading nowhere, an unknown intent) is a broken
    edit too, not only a file that does not parse.

    `check_every` is how many seconds may pass between looks at the files'
    timestamps. A busy assistant asks for its flows on every turn; with a short
    interval an edit still shows up within that time, without a directory scan
    per message. 0 looks every time.
    """

    def __init__(
        self, directory: Path, check_every: float = 0.0, check: Optional[FlowCheck] = None
    ) -> None:
        self.directory = directory
        self.check_every = check_every
        self.check = check
        self._checked_at = float("-inf")
        self._flows: dict[str, Flow] = {}
        self._signature: Optional[tuple[tuple[str, float, int], ...]] = None
        self._lock = threading.Lock()
        self.last_error: Optional[str] = None
        self.errors: list[str] = []
        self.glossary: dict[str, Text] = {}
        self._parsed_files: dict[str, tuple[tuple[int, int], Flow]] = {}
        # ticket_titles(), worked out once per set of loaded flows.
        self._titles: tuple[Optional[dict[str, Flow]], dict[str, str]] = (None, {})

    def _current_signature(self) -> tuple[tuple[str, float, int], ...]:
        files = flow_files(self.directory) + [self.directory / "_glossary.yml"]
        signature = []
        for path in files:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            signature.append((path.name, stat.st_mtime, stat.st_size))
        return tuple(signature)

    def reload_if_changed(self) -> bool:
        """Reload when any flow file was added, removed or edited. True if reloaded."""
        signature = self._current_signature()
        if signature == self._signature:
            return False
        with self._lock:
            if signature == self._signature:
                return False
            try:
                flows = {}
                for path in flow_files(self.directory):
                    flow = self._parsed(path)
                    if flow.id in flows:
                        raise FlowFormatError(f"duplicate flow id {flow.id!r}", source=str(path))
                    flows[flow.id] = flow
                glossary_path = self.directory / "_glossary.yml"
                glossary = {}
                if glossary_path.exists():
                    glossary = read_glossary(glossary_path)
                errors = self.check(flows) if self.check is not None else []
            except (FlowFormatError, OSError, yaml.YAMLError) as error:
                errors = [str(error)]
            self._signature = signature
            self.errors = errors
            if errors:
                more = len(errors) - 1
                self.last_error = errors[0] + (f" (and {more} more)" if more else "")
                return False
            self._flows = flows
            self.glossary = glossary
            self.last_error = None
            return True

    def _parsed(self, path: Path) -> Flow:
        """A file's flow, parsed again only when the file changed since the last time."""
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._parsed_files.get(path.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        flow = load_flow_file(path)
        self._parsed_files[path.name] = (key, flow)
        return flow

    def reload(self) -> None:
        """Reload now, whatever the files' timestamps say."""
        self._signature = None
        self._parsed_files.clear()
        self.reload_if_changed()

    def flows(self) -> dict[str, Flow]:
        now = time.monotonic()
        if now - self._checked_at >= self.check_every:
            self._checked_at = now
            self.reload_if_changed()
        return self._flows

    def get(self, flow_id: str) -> Optional[Flow]:
        return self.flows().get(flow_id)

    def for_intent(self, intent: str) -> list[Flow]:
        return [f for f in self.flows().values() if intent in f.intents]

    def ticket_titles(self) -> dict[str, str]:
        """Every ticket title the flows write (a flow's title or an outcome's), by its
        English text, as written in all its languages: tickets store the English, and a
        customer reads their ticket's title in their own language."""
        flows = self.flows()
        if self._titles[0] is flows:
            return self._titles[1]
        titles: dict[str, str] = {}
        for flow in flows.values():
            outcomes = [s.options["title"] for s in flow.steps.values() if "title" in s.options]
            for title in [flow.title, *outcomes]:
                if isinstance(title, Text):
                    titles.setdefault(str(title), title)
        self._titles = (flows, titles)
        return titles
