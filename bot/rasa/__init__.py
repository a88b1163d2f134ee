"""Code only the Rasa server loads (its own virtualenv: Rasa 3.6, SQLAlchemy 1.4,
pydantic 1): the gateway channel, the bounded tracker store, the intent
classifier and the speed-ups. Nothing in the API imports this package."""
