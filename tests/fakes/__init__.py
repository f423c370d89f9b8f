"""Fakes at seams the project owns: a blob store in memory, a repository answering from memory."""
