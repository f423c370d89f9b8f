"""Helpers the tests share: servers, clients, distributions and data to feed them."""
