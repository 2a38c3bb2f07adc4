"""Eligibility decisions: models."""
