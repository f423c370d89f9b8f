"""Domain services: rules and transactions. They never see Starlette."""
