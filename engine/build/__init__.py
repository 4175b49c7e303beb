"""berth build: Dockerfiles to images with the engine's own containers."""
