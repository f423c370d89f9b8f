"""Credentials, principals and the one permission function."""
