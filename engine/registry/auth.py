"""A registry's authentication challenge, and the bearer tokens Docker's token protocol
hands out for it.

A registry that wants credentials answers ``401`` with ``WWW-Authenticate``: ``Basic
realm=...`` (send the user's password each time), or ``Bearer realm=...,service=...,
scope=...`` (ask the token server at realm for a token good for the scopes, with the
user's credentials or anonymously, then send the token).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from engine.errors import RegistryError

_PARAMETER = re.compile(r'\s*([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


class Secret(Protocol):
    username: str
    secret: str
    identity_token: str


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    realm: str
    service: str = ""


def parse_challenge(header: str) -> Challenge | None:
    """The challenge in a ``WWW-Authenticate`` header; None for a scheme berth lacks."""
    scheme, _, rest = header.strip().partition(" ")
    parameters = {
        match.group(1).lower(): match.group(2) if match.group(2) is not None else match.group(3)
        for match in _PARAMETER.finditer(rest)
    }
    scheme = scheme.lower()
    if scheme not in ("basic", "bearer"):
        return None
    return Challenge(scheme, parameters.get("realm", ""), parameters.get("service", ""))


def basic_header(credentials: Secret) -> str:
    pair = f"{credentials.username}:{credentials.secret}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def token_request(
    challenge: Challenge, scopes: list[str], credentials: Secret | None
) -> tuple[str, str, dict[str, str], bytes | None]:
    """The request that asks ``challenge``'s token server for a token good for ``scopes``:
    method, URL, headers, body. With an identity token (a refresh token) it is OAuth2's
    POST, as Docker does; otherwise a GET, with Basic credentials when there are some."""
    if credentials and credentials.identity_token:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": credentials.identity_token,
            "service": challenge.service,
            "scope": " ".join(scopes),
            "client_id": "berth",
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return "POST", challenge.realm, headers, urlencode(form).encode()
    query = [("service", challenge.service)] if challenge.service else []
    query += [("scope", scope) for scope in scopes]
    separator = "&" if "?" in challenge.realm else "?"
    url = challenge.realm + (separator + urlencode(query) if query else "")
    headers = {"Authorization": basic_header(credentials)} if credentials else {}
    return "GET", url, headers, None


def token_from(body: bytes, realm: str) -> str:
    """The token in a token server's answer (``token``, or OAuth2's ``access_token``)."""
    try:
        answer = json.loads(body)
        token = answer.get("token") or answer.get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise RegistryError(f"the token server {realm} answered without a token")
    return token
