"""OpenID Connect tokens of CI jobs: the issuers' signing keys, and verifying a token with them."""
