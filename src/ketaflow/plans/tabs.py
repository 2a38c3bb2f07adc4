"""The plans chart tab; registered when the app is ready."""
