"""The review list of what the assistant did not understand, and trainers' labels."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from api.config import PROJECT_ROOT, Settings
from api.db import Database
from api.models import NotUnderstood
from api.services import nlu_review
from api.services.diagnosis import DiagnosisService
from api.services.errors import Conflict, Invalid
from bot.flows.engine import CustomerTurn
from tests.analytics_history import DAY, write_flow, write_history
from tests.conftest import make_settings

DOMAIN = PROJECT_ROOT / "domain.yml"
RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"


async def the_list(database: Database, **filters):
    async with database.session() as session:
        return await nlu_review.review_list(
            session=session, start=DAY - timedelta(days=1), end=DAY + timedelta(days=1), **filters
        )


async def test_the_list_groups_the_same_message_with_where_and_what_was_guessed(
    database: Database,
) -> None:
    async with database.session() as session:
        await write_history(session)
    items = {item.text.lower(): item for item in await the_list(database)}
    thingy = next(i for k, i in items.items() if k.startswith("my thingy"))
    # Case and spacing aside, three customers wrote it; the assistant mostly guessed hardware.
    assert thingy.count == 3 and thingy.kinds == {"fallback": 3}
    assert thingy.places == [{"kind": "fallback", "flow_id": None, "step_id": None, "count": 3}]
    assert thingy.guesses[0]["intent"] == "problem_hardware" and thingy.guesses[0]["count"] == 2
    assert thingy.guesses[0]["confidence"] == pytest.approx(0.33)
    assert {g["intent"] for g in thingy.guesses} == {"problem_hardware", "problem_internet"}
    blinking = items["the blinking one"]
    assert blinking.places == [
        {"kind": "miss", "flow_id": "router_check", "step_id": "lights", "count": 1}
    ]
    assert len(items) == 3
    assert [i.text for i in await the_list(database, kind="miss")] == [
        "Blue light",
        "the blinking one",
    ]


async def test_a_label_is_proposed_training_data_and_asks_for_retraining(
    database: Database, tmp_path: Path
) -> None:
    reviewed = tmp_path / "nlu" / "reviewed.yml"
    async with database.session() as session:
        await write_history(session)
    assert not reviewed.exists()  # created by the first label only
    async with database.session() as session:
        result = await nlu_review.label(
            session=session,
            text="MY THINGY is broken",
            intent="problem_hardware",
            staff_id=7,
            reviewed_file=reviewed,
            domain_file=DOMAIN,
        )
    assert result.messages == 3 and result.added and result.retrain_needed
    assert "Retraining is needed" in result.message
    content = reviewed.read_text(encoding="utf-8")
    assert "PROPOSED TRAINING EXAMPLES" in content
    document = yaml.safe_load(content)
    assert document["version"] == "3.1"
    assert document["nlu"] == [
        {"intent": "problem_hardware", "examples": "- MY THINGY is broken\n"}
    ]
    # Labelled messages leave the open list and show in the labelled one.
    assert all(not i.text.lower().startswith("my thingy") for i in await the_list(database))
    labelled = await the_list(database, status="labelled")
    assert [(i.text.lower(), i.label) for i in labelled] == [
        ("my thingy is broken", "problem_hardware")
    ]
    async with database.session() as session:
        rows = (
            (await session.execute(select(NotUnderstood).where(NotUnderstood.label.is_not(None))))
            .scalars()
            .all()
        )
    assert {(r.labelled_by, r.label) for r in rows} == {(7, "problem_hardware")}

    # A second label of the same text for another intent moves the example.
    async with database.session() as session:
        moved = await nlu_review.label(
            session=session,
            text="my thingy is broken",
            intent="problem_internet",
            staff_id=7,
            reviewed_file=reviewed,
            domain_file=DOMAIN,
        )
    assert moved.added
    assert nlu_review.read_reviewed(reviewed) == {"problem_internet": ["my thingy is broken"]}


async def test_labels_are_checked(database: Database, tmp_path: Path) -> None:
    nlu = tmp_path / "nlu"
    nlu.mkdir()
    (nlu / "smalltalk.yml").write_text(
        'version: "3.1"\nnlu:\n  - intent: greet\n    examples: |\n      - Blue light\n',
        encoding="utf-8",
    )
    reviewed = nlu / "reviewed.yml"
    async with database.session() as session:
        await write_history(session)

    async def label(text: str, intent: str):
        async with database.session() as session:
            return await nlu_review.label(
                session=session,
                text=text,
                intent=intent,
                staff_id=None,
                reviewed_file=reviewed,
                domain_file=DOMAIN,
            )

    with pytest.raises(Invalid, match="Unknown intent"):
        await label("the blinking one", "problem_spaceship")
    with pytest.raises(Invalid, match="No message"):
        await label("never written by anyone", "inform")
    # Already trained as another intent: Rasa would refuse the data, so we do too.
    with pytest.raises(Conflict, match="greet"):
        await label("blue LIGHT", "inform")
    assert not reviewed.exists()
    assert [i.text for i in await the_list(database, kind="miss")] == [
        "Blue light",
        "the blinking one",
    ]
    same = await label("Blue light", "greet")
    assert not same.added and not same.retrain_needed and not reviewed.exists()


def test_examples_carry_no_entity_annotations() -> None:
    assert (
        nlu_review.training_example("the [red](light_color)\n one {x}")
        == "the (red)(light_color) one (x)"
    )


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="Rasa's virtualenv is not set up")
def test_the_proposed_file_is_valid_rasa_nlu_data(tmp_path: Path) -> None:
    path = tmp_path / "reviewed.yml"
    path.write_text(
        nlu_review.render_reviewed(
            {"problem_hardware": ["my thingy is broken", "Bild: 50% grün?"], "inform": ["#3 - yes"]}
        ),
        encoding="utf-8",
    )
    empty = tmp_path / "empty.yml"
    empty.write_text(nlu_review.render_reviewed({}), encoding="utf-8")
    script = (
        "import sys\n"
        "from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader\n"
        "for path in sys.argv[1:]:\n"
        "    data = RasaYAMLReader().read(path)\n"
        "    print(sorted((m.get('intent'), m.get('text')) for m in data.training_examples))\n"
    )
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", script, str(path), str(empty)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    first, second = done.stdout.strip().splitlines()[-2:]
    assert first == str(
        sorted(
            [
                ("problem_hardware", "my thingy is broken"),
                ("problem_hardware", "Bild: 50% grün?"),
                ("inform", "#3 - yes"),
            ]
        )
    )
    assert second == "[]"


@pytest.fixture
async def service_on_test_flows(tmp_path: Path) -> tuple[DiagnosisService, Settings]:
    settings = make_settings(tmp_path, flows_dir=write_flow(tmp_path / "flows"))
    return DiagnosisService(settings, Database()), settings


async def test_the_assistant_records_what_it_did_not_understand(
    tmp_path: Path, service_on_test_flows: tuple[DiagnosisService, Settings]
) -> None:
    from api.db import run_migrations

    service, settings = service_on_test_flows
    run_migrations(settings)
    database = Database()
    database.connect(settings)
    try:
        async with database.session() as session:
            # No flow running, nothing started: a fallback, with the NLU's best guess.
            await service.handle_turn(
                session=session,
                conversation_id="c-1",
                flow_state=None,
                turn=CustomerTurn(
                    text="my   thingy is broken",
                    intent="nlu_fallback",
                    confidence=0.31,
                    likely_intents=("problem_hardware", "greet"),
                ),
            )
            # "It works now" and a button are not misunderstandings.
            await service.handle_turn(
                session=session,
                conversation_id="c-1",
                flow_state=None,
                turn=CustomerTurn(text="it works now", intent="problem_fixed"),
            )
            started = await service.start_flow(
                session=session, conversation_id="c-2", flow_id="router_check"
            )
            # An answer that matches no choice of the running flow's question: a miss.
            await service.handle_turn(
                session=session,
                conversation_id="c-2",
                flow_state=started.flow_state,
                turn=CustomerTurn(
                    text="my cat sat on the keyboard", intent="inform", confidence=0.52
                ),
            )
        async with database.session() as session:
            rows = (
                (await session.execute(select(NotUnderstood).order_by(NotUnderstood.id)))
                .scalars()
                .all()
            )
    finally:
        await database.disconnect()
    assert [(r.conversation_id, r.kind, r.text, r.intent, r.flow_id, r.step_id) for r in rows] == [
        ("c-1", "fallback", "my thingy is broken", "problem_hardware", None, None),
        ("c-2", "miss", "my cat sat on the keyboard", "inform", "router_check", "lights"),
    ]
    assert rows[0].confidence == pytest.approx(0.31) and rows[1].confidence == pytest.approx(0.52)


async def test_german_messages_group_and_label_alike(database: Database, tmp_path: Path) -> None:
    async with database.session() as session:
        for text in ("Das Bild ist ÜBERALL grün", "Das Bild ist ÜBERALL grün"):
            await nlu_review.record(
                session=session,
                conversation_id="c-de",
                kind="fallback",
                turn=CustomerTurn(text=text, intent="problem_cable", confidence=0.4),
            )
    async with database.session() as session:
        items = await nlu_review.review_list(
            session=session, start=DAY, end=DAY + timedelta(days=3650)
        )
        assert [(i.text, i.count) for i in items] == [("Das Bild ist ÜBERALL grün", 2)]
        result = await nlu_review.label(
            session=session,
            text=items[0].text,
            intent="problem_cable",
            staff_id=None,
            reviewed_file=tmp_path / "reviewed.yml",
            domain_file=DOMAIN,
        )
    assert result.messages == 2
    assert nlu_review.read_reviewed(tmp_path / "reviewed.yml") == {
        "problem_cable": ["Das Bild ist ÜBERALL grün"]
    }
