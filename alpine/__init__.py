"""Alpine: the receiving service. Verifies, deduplicates and stores Argo's signals."""

__version__ = "0.1.0"
