"""Shows which diagnostic flow a customer's message would start, and why.

Usage (from the repository root, in the Rasa environment; `make which-flow`):

    .venv-rasa/bin/python scripts/which_flow.py --text "the picture keeps breaking up"
    .venv-rasa/bin/python scripts/which_flow.py --no-nlu --text "WLAN bricht ständig ab"

The text is parsed by the trained NLU model (the newest in models/ unless
--model says otherwise), then the flows are ranked exactly as in a conversation
(bot/flows/choosing.py). With --no-nlu, every customer flow is ranked by
meaning alone, without a model: quick for checking a new flow's examples.
Flows are read from data/flows/ or --flows, so an edited flow shows at once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bot.flows.choosing import MIN_MEANING, FlowChooser  # noqa: E402
from bot.flows.loader import FlowLibrary  # noqa: E402
from bot.flows.meaning import SentenceEncoder  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", required=True, help="what the customer writes")
    parser.add_argument("--model", type=Path, help="trained model; default: newest in models/")
    parser.add_argument("--flows", type=Path, default=REPO_ROOT / "data/flows")
    parser.add_argument("--no-nlu", action="store_true", help="rank by meaning alone")
    args = parser.parse_args(argv)

    library = FlowLibrary(args.flows)
    library.reload()
    if library.last_error:
        raise SystemExit(f"the flows do not load: {library.last_error}")
    chooser = FlowChooser(library, SentenceEncoder())

    if args.no_nlu:
        print("NLU: not used; every customer flow is ranked by meaning")
        ranked = chooser.score(args.text, chooser.customer_flows())
        chosen = ranked[0].flow if ranked else None
    else:
        from scripts.eval_routing import newest_model, parse_all, quiet_rasa

        quiet_rasa()
        model = args.model or newest_model(REPO_ROOT / "models")
        parse = asyncio.run(parse_all(model, [args.text]))[0]
        intent = parse.get("intent") or {}
        name, confidence = intent.get("name") or "", float(intent.get("confidence") or 0.0)
        likely = tuple(
            r["name"] for r in parse.get("intent_ranking") or [] if r["name"] != "nlu_fallback"
        )
        entities = ", ".join(f"{e['entity']}={e['value']}" for e in parse.get("entities") or [])
        print(f"NLU ({model.name}): {name} {confidence:.2f}; next: {', '.join(likely[1:4])}")
        print(f"Entities: {entities or 'none'}")
        devices = [e["value"] for e in parse.get("entities") or [] if e["entity"] == "device"]
        understood = {
            "text": args.text,
            "intent": name,
            "confidence": confidence,
            "likely_intents": likely,
            "devices": devices,
        }
        ranked = chooser.rank(**understood)
        chosen = chooser.choose(**understood)
    print()
    for position, match in enumerate(ranked, start=1):
        mark = "default" if match.flow.default else ""
        print(f"{position:>2}. {match.score:5.2f}  {match.flow.id:<36} {mark}")
        print(f"          {match.explain()}")
    print()
    if chosen is None:
        print("No flow starts: the intent is not a problem this assistant diagnoses.")
    elif ranked and chosen.id != ranked[0].flow.id:
        print(
            f"Starts {chosen.id}: the domain's default, because nothing was closer "
            f"than {MIN_MEANING:.2f}."
        )
    else:
        print(f"Starts {chosen.id}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
