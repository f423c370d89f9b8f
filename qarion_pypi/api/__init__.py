"""HTTP routes, thin: parse, authorize, call a service, present."""
