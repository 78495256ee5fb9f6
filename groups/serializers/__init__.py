"""Sentry's JSON shapes for issues, events and tags, and the input of issue updates."""
