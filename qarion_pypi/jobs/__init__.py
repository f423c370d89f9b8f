"""Background jobs: persisted in the database, run by an in-process asyncio task group."""
