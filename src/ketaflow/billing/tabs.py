"""The billing chart tab; registered when the app is ready."""
