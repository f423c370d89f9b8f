"""The Simple Repository API: one structure, rendered as PEP 503 HTML or PEP 691 JSON."""
