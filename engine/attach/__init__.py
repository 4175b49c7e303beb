"""Attach clients: talk to a container's monitor over its attach socket."""
