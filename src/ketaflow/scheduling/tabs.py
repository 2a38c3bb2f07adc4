"""The scheduling chart tab; registered when the app is ready."""
