"""The JSON Schema for flow files accepts every shipped flow and rejects broken ones."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot.flows.loader import read_yaml_with_lines, strip_lines
from tests.conftest import FLOWS_DIR

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "bot" / "flows" / "flow.schema.json"
SCHEMA_COMMENT = "# yaml-language-server: $schema=../../bot/flows/flow.schema.json"
FLOW_FILES = sorted(p for p in FLOWS_DIR.glob("*.yml") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def load(path: Path) -> Any:
    return strip_lines(read_yaml_with_lines(path))


def messages(validator: Draft202012Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_there_are_flow_files() -> None:
    assert len(FLOW_FILES) >= 16


@pytest.mark.parametrize("path", FLOW_FILES, ids=[p.stem for p in FLOW_FILES])
def test_every_flow_file_matches_the_schema(validator: Draft202012Validator, path: Path) -> None:
    assert messages(validator, load(path)) == []


@pytest.mark.parametrize("path", FLOW_FILES, ids=[p.stem for p in FLOW_FILES])
def test_every_flow_file_points_editors_at_the_schema(path: Path) -> None:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == SCHEMA_COMMENT


@pytest.mark.parametrize("path", FLOW_FILES, ids=[p.stem for p in FLOW_FILES])
def test_the_file_name_is_the_flow_id(path: Path) -> None:
    assert load(path)["flow"]["id"] == path.stem


GOOD: dict[str, Any] = {
    "flow": {
        "id": "sample",
        "domain": "hardware",
        "title": "Sample",
        "triggers": {"intents": ["problem_hardware"], "keywords": ["sample"]},
        "start": "ask",
        "steps": [
            {"id": "ask", "label": "Asked", "ask": "Does it work?", "yes": "done", "no": "part"},
            {"id": "done", "outcome": "resolved", "say": "Great!"},
            {"id": "part", "outcome": "part", "part": "KB-USB-STD"},
        ],
    },
    "tests": [{"name": "works", "turns": ["yes"], "expect_outcome": "resolved"}],
}


def test_the_sample_document_is_valid(validator: Draft202012Validator) -> None:
    assert messages(validator, GOOD) == []


def _with(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(GOOD)
    change(document)
    return document


def _step(document: dict[str, Any], index: int) -> dict[str, Any]:
    return document["flow"]["steps"][index]


def _replace_first_step(document: dict[str, Any], **keys: Any) -> None:
    document["flow"]["steps"][0] = {"id": "ask", **keys}


INVALID = {
    "no flow mapping": lambda d: d.pop("flow"),
    "unknown domain": lambda d: d["flow"].update(domain="gardening"),
    "missing start": lambda d: d["flow"].pop("start"),
    "unknown flow key": lambda d: d["flow"].update(colour="blue"),
    "unknown step key": lambda d: _step(d, 0).update(question="Why?"),
    "unknown outcome": lambda d: _step(d, 1).update(outcome="refund"),
    "part outcome without a part": lambda d: _step(d, 2).pop("part"),
    "handoff to tier 1": lambda d: _step(d, 2).update(outcome="handoff", tier=1, skill="hardware"),
    "unknown priority": lambda d: _step(d, 2).update(priority="asap"),
    "yes/no question without no": lambda d: _step(d, 0).pop("no"),
    "question without a question mark": lambda d: _step(d, 0).update(ask="Does it work"),
    "question with choices and yes/no": lambda d: _step(d, 0).update(
        choices=[{"value": "a", "next": "done"}, {"value": "b", "next": "done"}]
    ),
    "a single choice": lambda d: _replace_first_step(
        d, ask="Which?", choices=[{"value": "a", "next": "done"}]
    ),
    "button title over 40 characters": lambda d: _replace_first_step(
        d,
        ask="Which?",
        choices=[{"value": "a", "title": "x" * 41, "next": "done"}, {"value": "b", "next": "done"}],
    ),
    "unknown check": lambda d: _replace_first_step(
        d, check="horoscope", results={"default": "done"}
    ),
    "unknown check result": lambda d: _replace_first_step(
        d, check="service_outage", results={"maybe": "done"}
    ),
    "branch without else": lambda d: _replace_first_step(
        d, branch=[{"if": {"slot": "x", "equals": 1}, "then": "done"}]
    ),
    "branch condition without a value": lambda d: _replace_first_step(
        d, branch=[{"if": {"slot": "x"}, "then": "done"}], **{"else": "done"}
    ),
    "unquoted hex code in a branch": lambda d: _replace_first_step(
        d,
        branch=[{"if": {"slot": "error_code", "in": [0x80070005]}, "then": "done"}],
        **{"else": "done"},
    ),
    "name pattern without a star": lambda d: _replace_first_step(
        d, ask="Which app?", slot="app_name", next="done", from_message={"names": ["app"]}
    ),
    "name pattern with two stars": lambda d: _replace_first_step(
        d, ask="Which app?", slot="app_name", next="done", from_message={"names": ["* * app"]}
    ),
    "message without next": lambda d: _replace_first_step(d, say="Hi."),
    "return that is not true": lambda d: _replace_first_step(d, **{"return": False}),
    "step without id": lambda d: _step(d, 1).pop("id"),
    "overlong message": lambda d: _step(d, 1).update(say="x" * 401),
    "numeric turn": lambda d: d["tests"][0].update(turns=[2147942512]),
    "unknown expected outcome": lambda d: d["tests"][0].update(expect_outcome="refund"),
}


@pytest.mark.parametrize("change", list(INVALID.values()), ids=list(INVALID))
def test_broken_documents_are_rejected(validator: Draft202012Validator, change: Any) -> None:
    assert messages(validator, _with(change)), "the schema accepted a broken document"


def test_yes_and_no_are_read_as_keys_not_booleans(
    validator: Draft202012Validator, tmp_path: Path
) -> None:
    path = tmp_path / "yes_no.yml"
    path.write_text(
        "flow:\n  id: yes_no\n  domain: cable\n  title: Yes and no\n  start: ask\n  steps:\n"
        "    - id: ask\n      ask: Is the picture back?\n      yes: done\n      no: done\n"
        "    - id: done\n      outcome: resolved\n"
        'tests:\n  - name: yes\n    turns: ["yes", no]\n',
        encoding="utf-8",
    )
    document = load(path)
    assert set(document["flow"]["steps"][0]) == {"id", "ask", "yes", "no"}
    assert messages(validator, document) == []
