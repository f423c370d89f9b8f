"""Bringing releases in from the upstream index: previews, dependency closures and import jobs."""
