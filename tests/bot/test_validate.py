"""The flow validator finds each kind of mistake, with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.flows.validate import main, validate
from tests.conftest import FLOWS_DIR

DOMAIN = Path(__file__).resolve().parents[2] / "domain.yml"

GOOD_STEPS = """
    - id: ask
      ask: Does it work?
      yes: done
      no: ticket
    - id: done
      outcome: resolved
    - id: ticket
      outcome: ticket
"""


def flow_file(
    directory: Path,
    steps: str,
    *,
    flow_id: str = "sample",
    start: str = "ask",
    intents: str = "[problem_hardware]",
    name: str | None = None,
    default: bool = True,
    languages: str | None = "[en]",
) -> Path:
    path = directory / f"{name or flow_id}.yml"
    # A customer flow is its area's default unless told otherwise (one per area).
    chosen_by = "  examples: [my device is broken]\n" + ("  default: true\n" if default else "")
    # Written in English only unless told otherwise, so the steps can be plain text.
    declared = f"  languages: {languages}\n" if languages else ""
    path.write_text(
        f"flow:\n  id: {flow_id}\n  domain: hardware\n  title: Sample\n"
        + declared
        + (chosen_by if intents != "[]" else "")
        + f"  triggers: {{intents: {intents}}}\n  start: {start}\n  steps:\n{steps}",
        encoding="utf-8",
    )
    return path


def errors_for(directory: Path) -> list[str]:
    findings = validate(directory, DOMAIN, directory / "no-catalog")
    return [f"{f.source}:{f.line}: {f.message}" for f in findings if f.severity == "error"]


def test_the_shipped_flows_are_valid() -> None:
    assert main(["--flows", str(FLOWS_DIR)]) == 0


def test_a_good_flow_has_no_errors(tmp_path: Path) -> None:
    flow_file(tmp_path, GOOD_STEPS)
    assert errors_for(tmp_path) == []


@pytest.mark.parametrize(
    ("steps", "kwargs", "expected"),
    [
        (GOOD_STEPS.replace("no: ticket", "no: nowhere"), {}, "leads to 'nowhere'"),
        (GOOD_STEPS + "    - id: island\n      outcome: resolved\n", {}, "can never be reached"),
        (
            GOOD_STEPS.replace("no: ticket", "no: note")
            + "    - id: note\n      say: Please wait.\n",
            {},
            "dead end",
        ),
        (
            """
    - id: ask
      ask: Does it work?
      yes: done
      no: again
    - id: again
      say: Try again.
      next: ask2
    - id: ask2
      ask: And now?
      yes: again
      no: again
    - id: done
      outcome: resolved
""",
            {},
            "loop with no way out",
        ),
        (
            """
    - id: ask
      ask: Which light?
      choices:
        - value: red
          next: done
        - value: green
    - id: done
      outcome: resolved
""",
            {},
            "has no `next`",
        ),
        (
            """
    - id: ask
      check: horoscope
      results: {default: done}
    - id: done
      outcome: resolved
""",
            {},
            "unknown check 'horoscope'",
        ),
        (
            """
    - id: ask
      outcome: part
    - id: ask
      outcome: resolved
""",
            {},
            "duplicate step id 'ask'",
        ),
        (
            """
    - id: ask
      ask: What do you see?
      choices:
        - value: smoke
          urgent: true
        - value: sparks
          urgent: true
      next: done
    - id: done
      outcome: resolved
""",
            {},
            "only one choice of a question can come first",
        ),
        (
            """
    - id: ask
      ask: What do you see?
      choices:
        - value: frozen
          covers: [remote, lights]
        - value: remote
      next: done
    - id: done
      outcome: resolved
""",
            {},
            "`covers` of the choice 'frozen' of step 'ask' must name other choices",
        ),
        (GOOD_STEPS, {"intents": "[problem_spaceship]"}, "not in domain.yml"),
        (GOOD_STEPS.replace("outcome: ticket", "outcome: teleport"), {}, "unknown outcome"),
        (GOOD_STEPS, {"start": "missing"}, "`start` names the step 'missing'"),
    ],
    ids=[
        "unknown step",
        "unreachable",
        "dead end",
        "cycle",
        "missing choice target",
        "unknown check",
        "duplicate id",
        "two urgent choices",
        "covers an unknown choice",
        "unknown intent",
        "unknown outcome",
        "bad start",
    ],
)
def test_each_kind_of_error_is_reported_with_file_and_line(
    tmp_path: Path, steps: str, kwargs: dict, expected: str
) -> None:
    path = flow_file(tmp_path, steps, **kwargs)
    errors = errors_for(tmp_path)
    assert any(expected in e for e in errors), errors
    assert all(e.startswith(f"{path}:") for e in errors), errors
    assert any(":None:" not in e for e in errors)


def test_duplicate_flow_ids_across_files(tmp_path: Path) -> None:
    flow_file(tmp_path, GOOD_STEPS, name="one")
    flow_file(tmp_path, GOOD_STEPS, name="two")
    assert any("already used" in e for e in errors_for(tmp_path))


def test_an_unknown_part_is_reported(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "parts.yml").write_text("parts:\n  - part_number: PSU-1\n")
    flows = tmp_path / "flows"
    flows.mkdir()
    flow_file(flows, GOOD_STEPS.replace("outcome: ticket", "outcome: part\n      part: PSU-9"))
    findings = validate(flows, DOMAIN, catalog)
    assert any("unknown part 'PSU-9'" in f.message for f in findings)


def test_wording_a_customer_would_not_understand_is_flagged(tmp_path: Path) -> None:
    flow_file(tmp_path, GOOD_STEPS.replace("ask: Does it work?", "ask: TODO write the question"))
    findings = validate(tmp_path, DOMAIN, tmp_path / "none")
    messages = [f.message for f in findings]
    assert any("placeholder" in m for m in messages)
    assert any("does not end with '?'" in m for m in messages)


def test_yaml_errors_have_a_line(tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text("flow:\n  id: x\n  steps: [\n")
    errors = errors_for(tmp_path)
    assert errors and ":None:" not in errors[0], errors


@pytest.mark.parametrize(("returns", "error"), [(True, True), (False, False)])
def test_a_call_needs_a_next_only_when_the_called_flow_can_return(
    tmp_path: Path, returns: bool, error: bool
) -> None:
    """A sub-flow that hands back needs somewhere to go on; a flow that ends with its
    own outcomes (the black-screen checks called from the picture question) does not."""
    end = "      return: true\n" if returns else "      outcome: resolved\n"
    helper = f"    - id: ask\n      say: Restart it.\n      next: back\n    - id: back\n{end}"
    flow_file(tmp_path, helper, flow_id="helper", intents="[]")
    flow_file(tmp_path, "    - id: ask\n      call: helper\n")
    found = [e for e in errors_for(tmp_path) if "to go on with" in e]
    assert bool(found) is error, errors_for(tmp_path)
