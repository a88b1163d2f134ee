"""Diagnostic flows: the YAML language trainers write, and the engine that runs it.

Plain Python with no Rasa import, shared by the custom actions, the validator
and the flow test runner.
"""
