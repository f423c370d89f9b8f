"""Resolving a release's dependency closure for a target interpreter and platform."""
