"""The outbox relay: claims due rows from Argo's outbox and delivers them to Alpine."""

__version__ = "0.1.0"
