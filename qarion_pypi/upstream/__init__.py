"""Talking to other package indexes: the outbound policy and a Simple API client."""
