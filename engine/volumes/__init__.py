"""Volumes: named and anonymous, under ``<root>/volumes/<name>/_data``, and container mounts."""
