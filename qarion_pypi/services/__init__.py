"""Domain services by feature: accounts, catalog and imports (scanning lives beside them)."""
