"""Images and their layers."""

from engine.images.service import Image, ImageService, ImageSummary

__all__ = ["Image", "ImageService", "ImageSummary"]
