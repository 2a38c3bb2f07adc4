"""FHIR Bulk Data export (`$export`, Bulk Data Access IG v2): asynchronous jobs at system, Patient
and Group level writing stored FHIR JSON to NDJSON files, and the same export to a directory for
the CLI (`export_to_directory`)."""
