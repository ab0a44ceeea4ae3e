"""Test helpers that are not tests: in-process Alpine, and (as they move here) factories,
database fixtures and process kits."""
