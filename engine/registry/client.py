"""One repository on one registry, spoken to with the OCI distribution protocol.

The client is synchronous (urllib3) and thread-safe: pulls and pushes run it in worker
threads, several blobs at once, so the event loop never waits on the network. urllib3
measured 1.1 GB/s for a 50 MB blob from a loopback registry, against 0.35 GB/s for
httpx (0.27 async); registries speak HTTP/1.1 to Docker too, so HTTP/2 buys nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import (
    HTTPError,
    InsecureRequestWarning,
    MaxRetryError,
    SSLError,
)

from engine.errors import IntegrityError, NotFoundError, RegistryError
from engine.registry.auth import (
    Challenge,
    Secret,
    basic_header,
    parse_challenge,
    token_from,
    token_request,
)
from engine.registry.endpoint import Endpoint, TransportOptions, endpoint

CHUNK = 1 << 20
_MANIFEST_LIMIT = 4 << 20  # the distribution spec's limit on what a registry must accept
_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^)\]]+)")
_RETRIES = urllib3.Retry(total=5, connect=1, read=1, redirect=5, status=0, raise_on_redirect=True)


@dataclass(frozen=True)
class Fetched:
    """A manifest or index as the registry sent it."""

    body: bytes
    media_type: str
    digest: str  # sha256:<hex> of body


class RegistryClient:
    """``repository`` (its name on the registry: ``library/busybox``) on ``host``.

    ``actions`` are what the token must allow there ("pull", "push"); ``mount_from``
    names repositories of the same registry blobs may be mounted from (pull access to
    them is asked for too). ``credentials`` are the user's, or None for anonymous.
    """

    def __init__(
        self, host: str, repository: str, *, actions: tuple[str, ...] = ("pull",),
        credentials: Secret | None = None, options: TransportOptions | None = None,
        mount_from: Iterable[str] = (),
    ) -> None:  # fmt: skip
        self.host = host
        self.repository = repository
        self._endpoint: Endpoint = endpoint(host, options or TransportOptions())
        self._credentials = credentials
        # No repository (a login): a token for the registry itself, as Docker asks.
        own = [f"repository:{repository}:{','.join(actions)}"] if repository else []
        self._scopes = own + [
            f"repository:{name}:pull" for name in mount_from if name != repository
        ]
        self._pool = urllib3.PoolManager(maxsize=8, ssl_context=self._endpoint.tls)
        if self._endpoint.insecure:  # asked for: urllib3's warning on each request is noise
            urllib3.disable_warnings(InsecureRequestWarning)
        self._base: str | None = None
        self._authorization: str | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.clear()

    # -- the protocol ----------------------------------------------------------------

    def login(self) -> None:
        """Check the credentials: a token (token auth), then the registry's /v2/ with them."""
        self._connect()
        self._check(self._request("GET", "/v2/"), f"registry {self.host}")

    def manifest(self, reference: str, accept: Iterable[str]) -> Fetched:
        """The manifest or index at ``reference`` (a tag or a digest), digest checked."""
        response = self._request(
            "GET", f"/v2/{self.repository}/manifests/{reference}",
            headers={"Accept": ", ".join(accept)},
        )  # fmt: skip
        self._check(response, f"manifest for {self._at(reference)}")
        body = response.data
        if len(body) > _MANIFEST_LIMIT:
            raise RegistryError(f"{self._at(reference)}: the manifest is over 4 MiB; refused")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise IntegrityError(
                f"{self._at(reference)}: the registry sent a manifest whose digest is "
                f"{digest}; refused (the registry's storage may be damaged)"
            )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return Fetched(body, media_type, digest)

    def open_blob(self, digest: str) -> urllib3.BaseHTTPResponse:
        """A streaming response with the blob's bytes (the caller verifies and releases it)."""
        response = self._request("GET", f"/v2/{self.repository}/blobs/{digest}", stream=True)
        self._check(response, self._name(f"blob {digest}"))
        return response

    def blob(self, digest: str) -> bytes:
        """A small blob (a config), read whole and verified."""
        response = self.open_blob(digest)
        try:
            data = response.read()
        finally:
            response.release_conn()
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise IntegrityError(
                f"{self._name(f'blob {digest}')}: the registry sent one whose digest is "
                f"{actual}; refused (the registry's storage may be damaged)"
            )
        return data

    def has_blob(self, digest: str) -> bool:
        response = self._request("HEAD", f"/v2/{self.repository}/blobs/{digest}")
        if response.status == 404:
            return False
        self._check(response, self._name(f"blob {digest}"))
        return True

    def mount_blob(self, digest: str, source: str) -> bool:
        """Ask the registry to link ``digest`` from its repository ``source``; whether it did."""
        response = self._request(
            "POST", f"/v2/{self.repository}/blobs/uploads/?mount={digest}&from={source}",
            redirect=False,
        )  # fmt: skip
        if response.status == 201:
            return True
        if response.status == 202:  # not mountable: the registry opened an upload instead
            self._request("DELETE", self._location(response), redirect=False)
            return False
        self._check(response, self._name(f"blob {digest}"))
        return False

    def upload_blob(self, chunks: Iterable[bytes], digest_of: Callable[[], str]) -> str:
        """Upload the bytes ``chunks`` yields as one blob; ``digest_of()`` gives their digest
        once they are all read (known only then for a layer compressed on the way)."""
        start = self._request("POST", f"/v2/{self.repository}/blobs/uploads/", redirect=False)
        self._check(start, self._name("a blob upload"), expected=(202,))
        patched = self._request(
            "PATCH", self._location(start), body=_Chunked(chunks),
            headers={"Content-Type": "application/octet-stream"}, redirect=False, chunked=True,
        )  # fmt: skip
        self._check(patched, self._name("a blob upload"), expected=(202, 204))
        digest = digest_of()
        location = self._location(patched)
        separator = "&" if "?" in location else "?"
        done = self._request("PUT", f"{location}{separator}digest={digest}", redirect=False)
        self._check(done, self._name(f"blob {digest}"), expected=(201, 204))
        return digest

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> str:
        response = self._request(
            "PUT", f"/v2/{self.repository}/manifests/{reference}", body=body,
            headers={"Content-Type": media_type}, redirect=False,
        )  # fmt: skip
        self._check(response, f"manifest for {self._at(reference)}", expected=(201, 200, 202))
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def tags(self) -> list[str]:
        """Every tag of the repository (following the registry's pagination)."""
        path: str | None = f"/v2/{self.repository}/tags/list?n=1000"
        found: list[str] = []
        while path:
            response = self._request("GET", path)
            self._check(response, self._name("the tags"))
            found += json.loads(response.data).get("tags") or []
            path = _next_link(response.headers.get("Link", ""))
        return found

    # -- requests, with authentication --------------------------------------------------

    def _request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None,
        body: Any = None, stream: bool = False, redirect: bool = True, chunked: bool = False,
    ) -> urllib3.BaseHTTPResponse:  # fmt: skip
        base = self._connect()
        url = urljoin(base, path)
        response = self._send(method, url, headers, body, stream, redirect, chunked)
        if response.status == 401 and body is None:
            self._authenticate(response, renew=True)
            response.release_conn()
            response = self._send(method, url, headers, body, stream, redirect, chunked)
        return response

    def _send(
        self, method: str, url: str, headers: dict[str, str] | None, body: Any,
        stream: bool, redirect: bool, chunked: bool,
    ) -> urllib3.BaseHTTPResponse:  # fmt: skip
        sent = dict(headers or {})
        if self._authorization:
            sent["Authorization"] = self._authorization
        try:
            return self._pool.request(
                method, url, headers=sent, body=body, preload_content=not stream,
                decode_content=False, redirect=redirect, retries=_RETRIES, chunked=chunked,
                timeout=urllib3.Timeout(connect=15, read=60),
            )  # fmt: skip
        except (HTTPError, OSError) as error:
            raise self._unreachable(error) from None

    def _connect(self) -> str:
        """The registry's base URL, found (HTTPS, or HTTP where allowed) and logged in to
        once: Docker's ping of /v2/ then, on a challenge, the token."""
        with self._lock:
            if self._base is None:
                self._base = self._ping()
            return self._base

    def _ping(self) -> str:
        schemes = ["https", "http"] if self._endpoint.plain_http_allowed else ["https"]
        for index, scheme in enumerate(schemes):
            url = self._endpoint.url(scheme, "/v2/")
            try:
                response = self._pool.request(
                    "GET", url, retries=False, timeout=urllib3.Timeout(connect=15, read=30)
                )
            except SSLError as error:
                if _is_verification(error) or index == len(schemes) - 1:
                    raise self._unreachable(error) from None
                continue  # not TLS at all: a plain HTTP registry, allowed here
            except (HTTPError, OSError) as error:
                raise self._unreachable(error) from None
            if response.status == 401:
                self._base = url.removesuffix("/v2/")
                self._authenticate(response, renew=False)
            elif response.status >= 400 and response.status != 404:
                raise RegistryError(
                    f"registry {self.host} answered {response.status} at {url}: is it a registry?"
                )
            return url.removesuffix("/v2/")
        raise AssertionError("unreachable")

    def _authenticate(self, response: urllib3.BaseHTTPResponse, *, renew: bool) -> None:
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            raise RegistryError(
                f"registry {self.host} asks for an authentication berth does not speak: "
                f"{response.headers.get('WWW-Authenticate', '(none given)')}"
            )
        if challenge.scheme == "basic":
            if self._credentials is None:
                raise self._denied("needs a login")
            if renew and self._authorization:
                raise self._denied("refused the username or password", wrong=True)
            self._authorization = basic_header(self._credentials)
            return
        self._authorization = "Bearer " + self._token(challenge)

    def _token(self, challenge: Challenge) -> str:
        method, url, headers, body = token_request(challenge, self._scopes, self._credentials)
        try:
            response = self._pool.request(
                method, url, headers=headers, body=body, retries=_RETRIES,
                timeout=urllib3.Timeout(connect=15, read=30),
            )  # fmt: skip
        except (HTTPError, OSError) as error:
            raise RegistryError(
                f"cannot reach the token server {challenge.realm} of {self.host}: {_reason(error)}"
            ) from None
        if response.status in (401, 403):
            raise self._denied("refused the username or password", wrong=True)
        if response.status != 200:
            raise RegistryError(
                f"the token server {challenge.realm} of {self.host} answered "
                f"{response.status}: {_registry_message(response.data)}"
            )
        return token_from(response.data, challenge.realm)

    # -- errors -------------------------------------------------------------------------

    def _check(
        self, response: urllib3.BaseHTTPResponse, what: str, expected: tuple[int, ...] = (200,)
    ) -> None:
        if response.status in expected:
            return
        data = response.data  # read whole, whether streamed or not
        response.release_conn()
        message = _registry_message(data)
        if response.status == 404:
            raise NotFoundError(
                f"{what} not found: {message or 'unknown'} (check the repository name and tag)"
            )
        if response.status in (401, 403):
            raise self._denied("denied access", message)
        raise RegistryError(
            f"registry {self.host} answered {response.status} for {what}"
            + (f": {message}" if message else "")
        )

    def _denied(self, what: str, detail: str = "", *, wrong: bool = False) -> RegistryError:
        hint = (
            f"check them, then berth login {self.host}"
            if wrong
            else f"the repository may not exist, or may need berth login {self.host}"
        )
        target = f" for {self.repository}" if self.repository else ""
        said = f": {detail}" if detail else ""
        return RegistryError(f"registry {self.host} {what}{target}{said} ({hint})")

    def _unreachable(self, error: BaseException) -> RegistryError:
        reason = _reason(error)
        if isinstance(error, SSLError) or "CERTIFICATE_VERIFY_FAILED" in reason:
            return RegistryError(
                f"TLS failure talking to registry {self.host}: {reason} (put its CA in "
                f"/etc/docker/certs.d/{self.host}/ca.crt, or use --tls-verify=false)"
            )
        return RegistryError(f"cannot reach registry {self.host}: {reason} (check the address)")

    def _name(self, what: str) -> str:
        return f"{what} of {self.host}/{self.repository}"

    def _at(self, reference: str) -> str:
        """The image as Docker's messages name it: ``host/repository:tag`` or ``@digest``."""
        separator = "@" if reference.startswith("sha256:") else ":"
        return f"{self.host}/{self.repository}{separator}{reference}"

    def _location(self, response: urllib3.BaseHTTPResponse) -> str:
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"registry {self.host} started an upload without a Location")
        return urljoin(self._base or "", location)


class _Chunked:
    """An iterable body urllib3 sends with chunked transfer encoding."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)


def _is_verification(error: BaseException) -> bool:
    return isinstance(error.__context__, ssl.SSLCertVerificationError) or (
        "CERTIFICATE_VERIFY_FAILED" in str(error) or "certificate verify failed" in str(error)
    )


def _reason(error: BaseException) -> str:
    """What went wrong, without urllib3's wrapping: "Connection refused"."""
    if isinstance(error, MaxRetryError) and error.reason is not None:
        error = error.reason
    text = str(error)
    errno_text = _ERRNO_TEXT.search(text)
    if errno_text:
        return errno_text.group(1)
    return text.split(": ", 1)[-1] if isinstance(error, SSLError) else text


def _registry_message(data: bytes) -> str:
    """The distribution spec's error text ("manifest unknown"), or "" if there is none."""
    try:
        errors = json.loads(data).get("errors") or []
        return "; ".join(str(error.get("message") or error.get("code", "")) for error in errors)
    except (ValueError, AttributeError):
        return ""


def _next_link(header: str) -> str | None:
    """The next page of a paginated list (RFC 5988 ``Link: </v2/...>; rel="next"``)."""
    if 'rel="next"' not in header:
        return None
    return header.split(";")[0].strip().strip("<>")
