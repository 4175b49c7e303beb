"""A real OCI registry (Debian's docker-registry) on loopback, for the registry client's tests.

``RegistryServer`` runs ``docker-registry serve`` with its own config on 127.0.0.1 and a free
port, optionally behind TLS (a CA made here with the openssl CLI), htpasswd Basic auth, or
Docker's token auth with a small token server of its own (``TokenServer``). Nothing here
needs root.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import ctypes.util
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import parse_qs, urlsplit

REGISTRY_BINARY = "docker-registry"
DEFAULT_USERS: Mapping[str, str] = {"alice": "wonderland"}
TOKEN_SERVICE = "berth-test-registry"
TOKEN_ISSUER = "berth-test-token-issuer"
READY_TIMEOUT = 10.0
PORT_ATTEMPTS = 5

Auth = Literal[None, "htpasswd", "token"]


class RegistryError(RuntimeError):
    """The registry did not start (the message ends with its log's tail)."""


def free_port() -> int:
    """A port free on 127.0.0.1 right now (docker-registry cannot bind port 0 and say which)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _new_ec_cert(cwd: Path, name: str, subject: str, *extra: str) -> None:
    """``name.key`` and ``name.crt``: a P-256 key (fast to make) and its certificate."""
    _openssl(
        cwd, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
        "-subj", subject, *extra,
    )  # fmt: skip


def make_test_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate it signs for 127.0.0.1 and localhost.

    Returns (ca.crt, server.crt, server.key). The extensions satisfy strict verifiers
    (Go's, and Python's VERIFY_X509_STRICT): a critical CA basicConstraints and keyUsage,
    key identifiers, and the names as subjectAltNames.
    """
    directory.mkdir(parents=True, exist_ok=True)
    _new_ec_cert(
        directory, "ca", "/CN=berth test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    _new_ec_cert(
        directory, "server", "/CN=localhost", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature",
        "-addext", "extendedKeyUsage=serverAuth",
    )  # fmt: skip
    return directory / "ca.crt", directory / "server.crt", directory / "server.key"


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash (the only kind docker-registry's htpasswd takes), by the system's libcrypt.

    libxcrypt (libcrypt1, on every Debian) does bcrypt; this spares apache2-utils or a
    Python package. Cost 4, the least bcrypt allows: the registry checks it on every request.
    """
    libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    text, number = ctypes.c_char_p, ctypes.c_int
    libcrypt.crypt_gensalt.restype = text
    libcrypt.crypt_gensalt.argtypes = [text, ctypes.c_ulong, text, number]
    libcrypt.crypt.restype = text
    libcrypt.crypt.argtypes = [text, text]
    salt = libcrypt.crypt_gensalt(b"$2b$", 4, None, 0)  # no random bytes given: libcrypt's own
    hashed = libcrypt.crypt(password.encode(), salt) if salt else None
    if not hashed or not hashed.startswith(b"$2b$"):
        raise RuntimeError("libcrypt cannot make bcrypt hashes")
    return hashed.decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _ecdsa_der_to_raw(signature: bytes) -> bytes:
    """openssl's DER (r, s) as JWS's ES256 wants it: r and s, 32 bytes each."""
    r_len = signature[3]
    r, s = signature[4 : 4 + r_len], signature[6 + r_len :]
    return b"".join(int.from_bytes(n, "big").to_bytes(32, "big") for n in (r, s))


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server answered."""

    path: str
    query: dict[str, list[str]]
    credentialed: bool  # an Authorization: Basic header came with it
    user: str | None  # the user named in it, right password or not
    status: int
    access: list[dict[str, object]] = field(default_factory=list)  # what the token granted


class TokenServer:
    """Docker's token protocol (``GET /token?service=S&scope=...``) on 127.0.0.1.

    Valid Basic credentials get the pull and push they ask for on any repository; wrong ones
    get 401; anonymous requests get pull if ``anonymous_pull``, else a token granting
    nothing (the registry then answers 401). Tokens are ES256 JWTs whose ``x5c`` names a
    self-signed certificate that the registry's ``rootcertbundle`` holds.
    """

    def __init__(self, workdir: Path, users: Mapping[str, str], *, anonymous_pull: bool) -> None:
        self.users = users
        self.anonymous_pull = anonymous_pull
        self.requests: list[TokenRequest] = []
        workdir.mkdir(parents=True, exist_ok=True)
        _new_ec_cert(workdir, "token", f"/CN={TOKEN_ISSUER}")
        self.certificate = workdir / "token.crt"
        self._key = workdir / "token.key"
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.certificate), "-outform", "DER"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        self._x5c = base64.b64encode(der).decode()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _TokenHandler)
        self._httpd.token_server = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def realm(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/token"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def grant(self, user: str | None, scopes: list[str]) -> list[dict[str, object]]:
        """What a token for ``user`` (None: anonymous) may do of the ``scopes`` asked."""
        allowed = {"pull", "push"} if user else ({"pull"} if self.anonymous_pull else set())
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            granted = [a for a in actions.split(",") if a in allowed]
            if kind == "repository" and name and granted:
                access.append({"type": kind, "name": name, "actions": granted})
        return access

    def sign(self, user: str | None, access: list[dict[str, object]]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self._x5c]}
        claims = {
            "iss": TOKEN_ISSUER, "sub": user or "", "aud": TOKEN_SERVICE, "exp": now + 300,
            "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": access,
        }  # fmt: skip
        signed = ".".join(_b64url(json.dumps(part).encode()) for part in (header, claims))
        der = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self._key)],
            input=signed.encode(), check=True, capture_output=True,
        ).stdout  # fmt: skip
        return f"{signed}.{_b64url(_ecdsa_der_to_raw(der))}"


class _TokenHandler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        tokens: TokenServer = self.server.token_server  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        credentialed, user, password = self._basic_credentials()
        status, access = 200, []
        if url.path != "/token":
            status = 404
        elif query.get("service", [TOKEN_SERVICE]) != [TOKEN_SERVICE]:
            status = 400
        elif credentialed and tokens.users.get(user or "") != password:
            status = 401
        else:
            access = tokens.grant(user, query.get("scope", []))
        tokens.requests.append(TokenRequest(url.path, query, credentialed, user, status, access))
        if status != 200:
            self._reply(status, {"errors": [{"code": "UNAUTHORIZED", "message": "denied"}]})
            return
        token = tokens.sign(user, access)
        issued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"token": token, "access_token": token, "expires_in": 300, "issued_at": issued}
        self._reply(200, body)

    def _basic_credentials(self) -> tuple[bool, str | None, str | None]:
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return False, None, None
        with contextlib.suppress(ValueError):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return True, user, password
        return True, None, None

    def _reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="berth-test-token"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: ``TokenServer.requests`` is the log."""


class RegistryServer:
    """docker-registry on 127.0.0.1, started on enter and stopped (even on failure) on exit."""

    def __init__(
        self,
        workdir: Path,
        *,
        tls: bool = False,
        auth: Auth = None,
        users: Mapping[str, str] = DEFAULT_USERS,
        anonymous_pull: bool = False,
    ) -> None:
        self.workdir = workdir
        self.tls = tls
        self.auth = auth
        self.users = dict(users)
        self.anonymous_pull = anonymous_pull
        self.storage = workdir / "storage"
        self.host = ""
        self.ca_cert: Path | None = None
        self.token_server: TokenServer | None = None
        self._tls_pair: tuple[Path, Path] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log = workdir / "registry.log"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def __enter__(self) -> RegistryServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Prepare certificates and auth, then start the registry on a free port."""
        self.storage.mkdir(parents=True, exist_ok=True)
        if self.tls:
            self.ca_cert, cert, key = make_test_ca(self.workdir / "tls")
            self._tls_pair = (cert, key)
        if self.auth == "token":
            self.token_server = TokenServer(
                self.workdir / "token", self.users, anonymous_pull=self.anonymous_pull
            )
        for _ in range(PORT_ATTEMPTS):
            self.host = f"127.0.0.1:{free_port()}"
            if self._launch():
                return
        raise RegistryError(f"no free port after {PORT_ATTEMPTS} tries\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the registry (terminate, then kill) and the token server; idempotent."""
        if self._process is not None:
            _end(self._process)
            self._process = None
        if self.token_server is not None:
            self.token_server.close()
            self.token_server = None

    def certs_dir(self, base: Path) -> Path:
        """``base/HOST:PORT/ca.crt``, Docker's certs.d layout; returns the ``HOST:PORT`` dir."""
        if self.ca_cert is None:
            raise ValueError("a plain-HTTP registry has no CA")
        directory = base / self.host
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.ca_cert, directory / "ca.crt")
        return directory

    def blob_path(self, digest: str) -> Path:
        """Where the filesystem storage driver keeps a blob's bytes."""
        algorithm, _, hexdigest = digest.partition(":")
        blobs = self.storage / "docker/registry/v2/blobs"
        return blobs / algorithm / hexdigest[:2] / hexdigest / "data"

    def corrupt_blob(self, digest: str) -> None:
        """Flip bytes of a stored blob in place (same length): the registry serves them as is."""
        path = self.blob_path(digest)
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
        path.write_bytes(data)

    def log_tail(self, lines: int = 30) -> str:
        if not self._log.exists():
            return ""
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])

    def _launch(self) -> bool:
        """Start on ``self.host``; False if the port was taken meanwhile."""
        config = self.workdir / "config.yml"
        # JSON is YAML: no YAML library needed.
        config.write_text(json.dumps(self._config(), indent=2))
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        why = self._wait_ready()
        if why is None:
            return True
        _end(self._process)
        self._process = None
        if "address already in use" in self.log_tail():
            return False
        raise RegistryError(f"docker-registry not ready at {self.url}: {why}\n{self.log_tail()}")

    def _wait_ready(self) -> str | None:
        """Poll ``GET /v2/`` (200, or 401 behind auth); None when ready, else why not."""
        assert self._process is not None
        context = ssl.create_default_context(cafile=self.ca_cert) if self.tls else None
        deadline = time.monotonic() + READY_TIMEOUT
        why = "timed out"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return f"exited with status {self._process.returncode}"
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=1, context=context):
                    return None
            except urllib.error.HTTPError as error:
                if error.code == 401:
                    return None
                why = f"GET /v2/ answered {error.code}"
            except OSError as error:  # not listening yet, or TLS trouble: say which at the end
                why = str(error)
            time.sleep(0.05)
        return why

    def _config(self) -> dict[str, object]:
        http: dict[str, object] = {"addr": self.host, "secret": secrets.token_hex(16)}
        if self._tls_pair is not None:
            http["tls"] = {"certificate": str(self._tls_pair[0]), "key": str(self._tls_pair[1])}
        config: dict[str, object] = {
            "version": "0.1",
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
        }
        if self.auth is not None:
            config["auth"] = self._auth_config()
        return config

    def _auth_config(self) -> dict[str, object]:
        if self.auth == "htpasswd":
            htpasswd = self.workdir / "htpasswd"
            lines = (f"{user}:{bcrypt_hash(password)}\n" for user, password in self.users.items())
            htpasswd.write_text("".join(lines))
            return {"htpasswd": {"realm": "berth-test", "path": str(htpasswd)}}
        assert self.token_server is not None
        return {
            "token": {
                "realm": self.token_server.realm,
                "service": TOKEN_SERVICE,
                "issuer": TOKEN_ISSUER,
                "rootcertbundle": str(self.token_server.certificate),
            }
        }


def _end(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
