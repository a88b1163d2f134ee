"""The validator warns when a flow would take messages meant for another flow, and
`make validate` checks the folder FLOWS_DIR names."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.flows.loader import FlowLibrary
from bot.flows.meaning import SentenceEncoder
from bot.flows.validate import main, messages_taken, validate
from tests.conftest import FLOWS_DIR

ROOT = FLOWS_DIR.parents[1]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


def warnings_in(flows_dir: Path) -> list[str]:
    findings = validate(flows_dir, ROOT / "domain.yml", ROOT / "data" / "catalog")
    return [str(f) for f in findings if f.severity == "warning"]


def test_a_trigger_intent_of_another_domain_is_reported(flows_copy: Path) -> None:
    assert not [w for w in warnings_in(flows_copy) if "trigger intent" in w]
    edit(
        flows_copy / "hardware_faulty_peripheral.yml",
        "intents: [problem_hardware]",
        "intents: [problem_hardware, problem_internet]",
    )
    (warning,) = [w for w in warnings_in(flows_copy) if "trigger intent" in w]
    assert warning.startswith(f"{flows_copy / 'hardware_faulty_peripheral.yml'}:4: warning:")
    assert "'problem_internet' is for internet problems" in warning
    assert "would take messages meant for" in warning and "internet_no_connection" in warning


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    loaded = SentenceEncoder()
    loaded.load()
    return loaded


def test_an_example_that_takes_another_flows_messages_is_reported(
    flows_copy: Path, encoder: SentenceEncoder
) -> None:
    library = FlowLibrary(flows_copy)
    library.reload()
    before = {str(f) for f in messages_taken(library, encoder)}

    edit(
        flows_copy / "internet_wifi_drops.yml",
        '    - "wifi keeps dropping out every few minutes on all our devices"\n',
        '    - "wifi keeps dropping out every few minutes on all our devices"\n'
        '    - "nothing loads on any device at home, the internet is completely dead"\n',
    )
    library.reload()
    new = [str(f) for f in messages_taken(library, encoder) if str(f) not in before]
    assert new, "the copied example should take the no-internet flow's messages"
    taker = f"{flows_copy / 'internet_wifi_drops.yml'}:4: warning: takes messages meant for"
    assert any(w.startswith(f"{taker} internet_no_connection") for w in new), new


def test_the_shipped_flows_take_few_of_each_others_messages(encoder: SentenceEncoder) -> None:
    library = FlowLibrary(FLOWS_DIR)
    library.reload()
    assert len(messages_taken(library, encoder)) <= 6


def test_the_validator_reports_warnings_but_passes(
    flows_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        flows_copy / "hardware_faulty_peripheral.yml",
        "intents: [problem_hardware]",
        "intents: [problem_hardware, problem_internet]",
    )
    assert main(["--flows", str(flows_copy), "--no-tests"]) == 0
    assert "would take messages meant for" in capsys.readouterr().out


def test_make_validate_checks_the_folder_flows_dir_names(tmp_path: Path) -> None:
    environment = {**os.environ, "FLOWS_DIR": str(tmp_path)}
    dry_run = subprocess.run(
        ["make", "-n", "validate"], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert f"-m bot.flows.validate --flows {tmp_path}" in dry_run.stdout, dry_run.stdout
