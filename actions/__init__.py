"""Custom actions that Rasa calls through the API's /webhook.

Actions stay thin: they translate between Rasa's tracker and the services in
api/services/, which hold the logic.
"""
