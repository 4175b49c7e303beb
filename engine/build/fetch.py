"""ADD of an http(s) URL: the file fetched as BuildKit fetches it.

It lands under the URL path's last component, mode 0600, its time the server's
Last-Modified when it sends one; ``--checksum`` is checked before anything is copied.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import urllib.error
import urllib.parse
import urllib.request
from email.utils import parsedate_to_datetime
from pathlib import Path

from engine.errors import BerthError, InvalidArgumentError

_TIMEOUT = 60.0
_CHUNK = 1 << 20


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def download(url: str, directory: Path, checksum: str | None = None) -> str:
    """Fetch ``url`` into ``directory``; the file's name there."""
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "__unnamed__"
    hasher = hashlib.sha256()
    target = directory / name
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response, open(target, "wb") as out:
            while chunk := response.read(_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
            modified = response.headers.get("Last-Modified")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise BerthError(f"failed to load {url}: {reason}") from None
    digest = f"sha256:{hasher.hexdigest()}"
    if checksum is not None:
        if not checksum.startswith("sha256:"):
            raise InvalidArgumentError(f'unsupported --checksum "{checksum}": give sha256:<hex>')
        if checksum != digest:
            raise BerthError(f"digest mismatch for {url}: expected {checksum}, got {digest}")
    os.chmod(target, 0o600)
    if modified:
        stamp = parsedate_to_datetime(modified).timestamp()
        os.utime(target, (stamp, stamp))
    return name
