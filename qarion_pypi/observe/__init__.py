"""What operators watch: Prometheus metrics and one log line per request."""
