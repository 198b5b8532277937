"""Helpers shared by the test modules (import as `from support.X import Y`)."""
