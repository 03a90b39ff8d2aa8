"""Slack: the approval message and its thread (notifier), what they say (messages)."""
