"""The assistant's brain: Rasa runtime configuration and the diagnostic flow engine."""
