"""docker save / docker load: images as tar archives other engines and tools read.

Two formats meet here. docker-archive is Docker's: ``manifest.json`` lists each image's
config, tags and layer tars by path (``repositories`` is its older index of tags).
An OCI image layout is the OCI's: ``oci-layout``, ``index.json`` and content-addressed
``blobs/sha256/<hex>``. Docker 25+ writes both in one tar, which berth's save does too
(archive_save); load reads either, compressed or not (archive_load). The service calls
these entry points in a thread.
"""

from __future__ import annotations

from engine.images.archive_load import load
from engine.images.archive_save import save

__all__ = ["load", "save"]
