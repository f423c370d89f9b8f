"""The web interface: server-rendered pages over the same services and JSON shapes as the
management API, signed in with an API key, safe with attacker-controlled package metadata."""
