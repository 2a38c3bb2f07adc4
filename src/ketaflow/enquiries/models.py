"""Enquiries and self-screen: models."""
