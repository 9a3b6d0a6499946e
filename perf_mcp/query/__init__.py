"""Answers over the store: window queries, the summary's head, the answer cache."""
