# One command runs it, one command tests it. See README.md.

PYTHON310 ?= $(shell command -v python3.10 2>/dev/null || echo $(HOME)/.pyenv/versions/3.10.13/bin/python)
API_VENV  := .venv
RASA_VENV := .venv-rasa
API_PY    := $(API_VENV)/bin/python
RASA      := $(RASA_VENV)/bin/rasa
RASA_DATA := data/nlu data/rules data/stories
FILE      ?= ../shared/eval/realworld_dev.jsonl
FLOW_OPENERS ?= data/heldout/flow_openers.jsonl
FLOWS_DIR ?= data/flows
# The tests also run against this PostgreSQL (see tests/conftest.py).
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.DEFAULT_GOAL := help
.PHONY: help setup run run-scaled train validate lint format test test-unit test-e2e eval-routing eval-flows eval-language which-flow tune-intents tune-fallback evaluate supervisor seed-analytics bench-analytics clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(API_VENV)/.installed: requirements/api.lock
	@test -x $(API_PY) || $(PYTHON310) -m venv $(API_VENV)
	$(API_PY) -m pip install --quiet --upgrade pip
	$(API_PY) -m pip install --quiet -r requirements/api.lock
	@touch $@

$(RASA_VENV)/.installed: requirements/rasa.lock
	@test -x $(RASA_VENV)/bin/python || $(PYTHON310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RASA_VENV)/bin/python -m pip install --quiet -r requirements/rasa.lock
	@touch $@

setup: $(API_VENV)/.installed $(RASA_VENV)/.installed  ## create both virtualenvs (idempotent)

train: setup  ## train the Rasa model if its inputs changed
	$(API_PY) scripts/train.py

run: setup  ## set up, train if needed, start Rasa + API (Ctrl-C stops)
	$(API_PY) scripts/stack.py

run-scaled: setup  ## 2 API workers + 2 Rasa instances on local PostgreSQL and Redis
	$(API_PY) scripts/run_scaled.py

validate: setup  ## validate Rasa training data and the diagnostic flows
	$(RASA) data validate --domain domain.yml --data $(RASA_DATA) --fail-on-warnings
	$(API_PY) -m bot.flows.validate --flows $(FLOWS_DIR)

lint: setup  ## ruff lint and format check
	$(API_VENV)/bin/ruff check .
	$(API_VENV)/bin/ruff format --check .

format: setup  ## format the code
	$(API_VENV)/bin/ruff format .
	$(API_VENV)/bin/ruff check --fix .

test-unit: setup  ## unit tests only (no Rasa, no browser)
	$(API_PY) -m pytest -m "not e2e and not browser" -q

test-e2e: setup  ## end-to-end and browser tests (trains a model if needed)
	$(API_PY) scripts/train.py
	$(API_PY) -m pytest -m "e2e and not browser" -q
	$(API_PY) -m pytest -m browser -q

# Browser tests run in their own pytest session: Playwright's sync API keeps an
# event loop running in the main thread, which the asyncio tests cannot share.
test: lint validate  ## everything: lint, validation, conversation, unit, end-to-end and browser tests
	MODEL=$$($(API_PY) scripts/train.py) && \
	  $(RASA) test core --model "$$MODEL" --stories tests/test_stories.yml \
	    --out results/stories --fail-on-prediction-errors && \
	  $(RASA_VENV)/bin/python scripts/check_rasa_tuning.py --model "$$MODEL" \
	    --postgres "$(TEST_POSTGRES_URL)"
	$(API_PY) -m pytest -q -m "not browser"
	$(API_PY) -m pytest -q -m browser

eval-routing: setup  ## routing quality on FILE (JSONL, see ../shared/eval/README.md)
	MODEL=$$($(API_PY) scripts/train.py) && \
	  $(RASA_VENV)/bin/python scripts/eval_routing.py --model "$$MODEL" --file $(FILE)

eval-flows: setup  ## how often the right flow starts, on data/heldout/flow_openers.jsonl
	MODEL=$$($(API_PY) scripts/train.py) && \
	  $(RASA_VENV)/bin/python scripts/eval_flows.py --model "$$MODEL" --file $(FLOW_OPENERS)

eval-language: setup  ## language detection (bot/language.py) on data/heldout/routing_{en,de}.jsonl, or FILES="…"
	$(API_PY) scripts/eval_language.py $(FILES)

which-flow: setup  ## which flow a message starts, and why: make which-flow TEXT="…"
	MODEL=$$($(API_PY) scripts/train.py) && \
	  $(RASA_VENV)/bin/python scripts/which_flow.py --model "$$MODEL" --flows $(FLOWS_DIR) --text "$(TEXT)"

tune-intents: setup  ## the intent classifier's C and the fallback threshold, by 5-fold cross-validation on data/nlu
	mkdir -p docs/evaluation
	$(RASA_VENV)/bin/python scripts/tune_intent_classifier.py | tee docs/evaluation/intent_classifier_tuning.txt

tune-fallback: setup  ## the FallbackClassifier threshold that costs customers least, on our own held-out examples
	mkdir -p docs/evaluation
	$(RASA_VENV)/bin/python scripts/tune_fallback.py | tee docs/evaluation/fallback_threshold.txt

.PHONY: bench bench-smoke bench-scaled
bench: setup  ## load benchmark against a fresh stack (ARGS="--model models/x.tar.gz ...")
	$(API_PY) scripts/bench.py $(ARGS)

seed-analytics: setup  ## synthetic history for flow analytics (ARGS="--conversations 100000")
	$(API_PY) scripts/seed_analytics.py $(ARGS)

bench-analytics: setup  ## time every analytics request on the seeded history
	$(API_PY) scripts/bench_analytics.py $(ARGS)

bench-smoke: setup  ## short benchmark (1 and 10 conversations), for CI
	$(API_PY) scripts/bench.py --smoke $(ARGS)

bench-scaled: setup  ## messages/s with 1 and with 2 Rasa instances, on PostgreSQL and Redis
	$(API_PY) scripts/bench_scaled.py $(ARGS)

supervisor: setup  ## create a console sign-in: make supervisor EMAIL=… NAME=… [ROLE=agent|trainer]
	$(API_PY) scripts/create_supervisor.py --email "$(EMAIL)" --name "$(NAME)" --role $(or $(ROLE),supervisor)

evaluate: setup  ## understanding, side by side: real dev sets, our held-out sets, cross-validation, flow choice; results in docs/evaluation/
	mkdir -p docs/evaluation
	MODEL=$$($(API_PY) scripts/train.py) && \
	  $(RASA) test core --model "$$MODEL" --stories tests/test_stories.yml \
	    --out results/stories --fail-on-prediction-errors && \
	  cp results/stories/story_report.json docs/evaluation/story_report.json && \
	  for set in realworld_dev realworld_de_dev; do \
	    $(RASA_VENV)/bin/python scripts/eval_routing.py --model "$$MODEL" \
	      --file ../shared/eval/$$set.jsonl > docs/evaluation/routing_$$set.txt || exit 1; done && \
	  for set in routing_en routing_de action_requests_en action_requests_de; do \
	    $(RASA_VENV)/bin/python scripts/eval_routing.py --model "$$MODEL" \
	      --file data/heldout/$$set.jsonl > docs/evaluation/heldout_$$set.txt || exit 1; done && \
	  $(RASA_VENV)/bin/python scripts/eval_flows.py --model "$$MODEL" --file $(FLOW_OPENERS) \
	    > docs/evaluation/flow_choice.txt
	# Intents on our own data: 5-fold cross-validation of the intent classifier.
	$(RASA_VENV)/bin/python scripts/tune_intent_classifier.py \
	  > docs/evaluation/intent_classifier_tuning.txt
	$(API_PY) scripts/summarise_evaluation.py docs/evaluation | tee docs/evaluation/summary.md

clean:  ## remove models, databases and logs (keeps the virtualenvs)
	rm -rf models var results test-artifacts .pytest_cache .ruff_cache
