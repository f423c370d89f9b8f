"""Trusted publishing: the CI identities a repository trusts, and upload tokens minted for them."""
