"""The running assistant loads only flows the validator accepts (FlowLibrary(check=…))."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from api.config import PROJECT_ROOT
from bot.flows.loader import FlowLibrary
from bot.flows.validate import flow_errors
from tests.flow_edits import EDITED_QUESTION, EDITS, FLOW_FILE, GOOD_QUESTION, break_flow

CHECK = flow_errors(PROJECT_ROOT / "domain.yml", PROJECT_ROOT / "data" / "catalog")


def lights_question(library: FlowLibrary) -> str:
    return library.get("internet_no_connection").steps["lights"].question


def touch_later(path: Path) -> None:
    """Move the file's timestamp on, as a second save would."""
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))


def test_the_shipped_flows_pass_the_check() -> None:
    library = FlowLibrary(PROJECT_ROOT / "data" / "flows", check=CHECK)
    library.reload()
    assert library.last_error is None and library.errors == []
    assert len(library.flows()) > 20


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_a_logic_error_keeps_the_last_good_flows(flows_copy: Path, kind: str) -> None:
    library = FlowLibrary(flows_copy, check=CHECK)
    library.reload()
    original = (flows_copy / FLOW_FILE).read_text(encoding="utf-8")

    where, words = break_flow(flows_copy, kind)
    assert library.reload_if_changed() is False
    assert GOOD_QUESTION in lights_question(library)
    assert library.last_error is not None and where in library.last_error, library.errors
    assert any(where in error and words in error for error in library.errors), library.errors

    (flows_copy / FLOW_FILE).write_text(original.replace(GOOD_QUESTION, EDITED_QUESTION))
    touch_later(flows_copy / FLOW_FILE)
    assert library.reload_if_changed() is True
    assert EDITED_QUESTION in lights_question(library)
    assert library.last_error is None and library.errors == []


def test_without_a_check_only_format_errors_count(flows_copy: Path) -> None:
    """Tools that read flows to measure them (which_flow, eval_flows) load them as they are."""
    library = FlowLibrary(flows_copy)
    library.reload()
    break_flow(flows_copy, "dead end")
    assert library.reload_if_changed() is True
    assert EDITED_QUESTION in lights_question(library)
