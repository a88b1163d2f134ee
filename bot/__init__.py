"""The assistant's brain, split by the process that runs it.

- `bot/flows/`: the diagnostic flow engine, its validator and test runner. Plain
  Python, run by the API (and by scripts); it imports neither Rasa nor `api`.
- `bot/rasa/`: the plug-ins only the Rasa server loads (its own virtualenv).
- `bot/routing.py` (intents to routes, from `bot/routing.yml`) and `bot/frustration.py`:
  small pure helpers with no Rasa import, usable from either environment.
- Rasa's run-time configuration: `endpoints*.yml`, `credentials.yml`.
"""
