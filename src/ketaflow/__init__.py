"""ketaflow: open, self-hostable software for a ketamine-therapy practice."""

__version__ = "0.1.0"
