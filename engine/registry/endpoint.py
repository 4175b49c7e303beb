"""How to reach a registry: its URL scheme, TLS trust, and whether it may be insecure.

As in Docker, a registry is spoken to over HTTPS, verified with the system's CAs plus
the ones in ``/etc/docker/certs.d/HOST[:PORT]/*.crt`` (and berth's own
``/etc/berth/certs.d/``, or ``--cert-dir``); client certificates are ``*.cert`` with
their ``*.key``. A loopback registry, or one marked insecure (``--tls-verify=false``,
or ``insecure = true`` for it in ``/etc/berth/registries.conf``, podman's format), may
answer plain HTTP instead. An insecure one is not verified either; a loopback one is,
when it speaks TLS: a certificate that does not verify is reported, never ignored.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InvalidArgumentError

CERT_DIRS = (Path("/etc/berth/certs.d"), Path("/etc/docker/certs.d"))
REGISTRIES_CONF = Path("/etc/berth/registries.conf")
# Docker Hub's API lives on another host than its name.
_API_HOSTS = {"docker.io": "registry-1.docker.io", "index.docker.io": "registry-1.docker.io"}


@dataclass(frozen=True)
class TransportOptions:
    """What the user said about TLS for this command (``--tls-verify``, ``--cert-dir``)."""

    tls_verify: bool | None = None  # None: as configured for the host
    cert_dir: Path | None = None
    registries_conf: Path = field(
        default_factory=lambda: Path(os.environ.get("BERTH_REGISTRIES_CONF", REGISTRIES_CONF))
    )


@dataclass(frozen=True)
class Endpoint:
    host: str  # host[:port] as the user named the registry
    api_host: str  # where its API is served
    insecure: bool  # TLS not verified, plain HTTP allowed
    plain_http_allowed: bool  # insecure, or loopback
    tls: ssl.SSLContext

    def url(self, scheme: str, path: str) -> str:
        return f"{scheme}://{self.api_host}{path}"


def endpoint(host: str, options: TransportOptions) -> Endpoint:
    """How to reach the registry ``host`` under ``options``."""
    insecure = (
        not options.tls_verify
        if options.tls_verify is not None
        else _configured_insecure(host, options.registries_conf)
    )
    return Endpoint(
        host=host,
        api_host=_API_HOSTS.get(host, host),
        insecure=insecure,
        plain_http_allowed=insecure or is_loopback(host),
        tls=_tls_context(host, insecure, options.cert_dir),
    )


def is_loopback(host: str) -> bool:
    """Whether ``host[:port]`` names this machine's loopback (Docker allows plain HTTP)."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _tls_context(host: str, insecure: bool, cert_dir: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    directories = [cert_dir] if cert_dir else [directory / host for directory in CERT_DIRS]
    for directory in directories:
        _load_directory(context, directory)
    return context


def _load_directory(context: ssl.SSLContext, directory: Path) -> None:
    """CAs (``*.crt``) and client certificates (``*.cert`` + ``*.key``) in ``directory``."""
    if not directory.is_dir():
        return
    for path in sorted(directory.iterdir()):
        try:
            if path.suffix == ".crt":
                context.load_verify_locations(cafile=path)
            elif path.suffix == ".cert":
                context.load_cert_chain(path, path.with_suffix(".key"))
        except (OSError, ssl.SSLError) as error:
            raise InvalidArgumentError(
                f'cannot use the certificate "{path}": {error} (fix or remove the file)'
            ) from None


def _configured_insecure(host: str, conf: Path) -> bool:
    """Whether podman-style ``registries.conf`` marks ``host`` insecure."""
    try:
        settings = tomllib.loads(conf.read_text())
    except FileNotFoundError:
        return False
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InvalidArgumentError(
            f'cannot read "{conf}": {error} (fix the file: [[registry]] location = "HOST", '
            "insecure = true)"
        ) from None
    registries = settings.get("registry", [])
    return any(
        isinstance(entry, dict) and entry.get("location") == host and entry.get("insecure")
        for entry in registries
    )
