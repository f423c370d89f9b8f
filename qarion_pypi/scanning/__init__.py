"""Vulnerability scanning: per-repository policy, scans on the job queue, enforcement for clients."""
