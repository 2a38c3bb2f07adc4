"""Informed consent: models."""
