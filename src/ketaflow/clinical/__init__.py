"""ketaflow's pure clinical core.

Standard library and dataclasses only: no Django, no database, no network, no clock reads (time is
passed in). An import-linter contract run in CI keeps it that way. Apps call into it; it calls
nothing back.
"""
