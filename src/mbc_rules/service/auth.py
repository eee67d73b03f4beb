"""Checking the EHR's bearer token (CDS Hooks 2.0, "Trusting CDS Clients").

The EHR signs a short-lived JWT with its private key. The service trusts only the issuers it is
given, each with its public keys (a JWKS or a PEM file): keys are never fetched from a ``jku``
the token itself names, an unsigned token (``alg: none``) or a shared-secret one (``HS*``) is
refused, and the expiry, issue time, audience and one-time ``jti`` are checked.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from jwt.algorithms import get_default_algorithms

from mbc_rules.service.contract import RequestError

# Public-key algorithms only: CDS Hooks names ES384 and RS384; their siblings are harmless.
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
LEEWAY_SECONDS = 30
MAX_REMEMBERED_JTI = 100_000


class KeyFileError(Exception):
    """A trusted issuer's key file cannot be read: raised at start-up, never per request."""


@dataclass(frozen=True)
class IssuerKey:
    """One public key of a trusted issuer."""

    key: Any
    kid: str | None
    algorithm: str | None


def load_keys(path: str | Path) -> tuple[IssuerKey, ...]:
    """Public keys from a JWKS JSON file or a PEM public key.

    Raises:
        KeyFileError: naming the file and what is wrong with it.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise KeyFileError(f"{file}: {error.strerror or error}") from None
    if text.lstrip().startswith("-----BEGIN"):
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        try:
            return (IssuerKey(load_pem_public_key(text.encode()), None, None),)
        except ValueError as error:
            raise KeyFileError(f"{file}: not a PEM public key: {error}") from None
    try:
        keys = jwt.PyJWKSet.from_json(text).keys
    except (jwt.PyJWKSetError, jwt.InvalidKeyError, ValueError) as error:
        raise KeyFileError(f"{file}: not a JWKS of public keys: {error}") from None
    found = []
    for key in keys:
        if key.algorithm_name not in ALGORITHMS and key.key_type not in ("RSA", "EC"):
            raise KeyFileError(f"{file}: key {key.key_id!r} is not an RSA or EC public key")
        algorithm = key.algorithm_name if key.algorithm_name in ALGORITHMS else None
        public = key.key.public_key() if hasattr(key.key, "private_bytes") else key.key
        found.append(IssuerKey(public, key.key_id, algorithm))
    return tuple(found)


def parse_issuer(spec: str) -> tuple[str, tuple[IssuerKey, ...]]:
    """``ISSUER=KEYFILE`` as given on the command line.

    Raises:
        KeyFileError: the spec has no ``=`` or the file is unusable.
    """
    issuer, sep, path = spec.rpartition("=")
    if not sep or not issuer or not path:
        raise KeyFileError(f"{spec!r}: expected ISSUER=KEYFILE (a JWKS or PEM public key)")
    return issuer, load_keys(path)


def _unauthorized(message: str) -> RequestError:
    return RequestError(401, f"bearer token refused: {message}", "Authorization")


class TokenVerifier:
    """Verifies the ``Authorization: Bearer`` JWT of each hook call."""

    def __init__(self, issuers: Mapping[str, Sequence[IssuerKey]]) -> None:
        if not issuers:
            raise ValueError("a token verifier needs at least one trusted issuer")
        self.issuers = {issuer: tuple(keys) for issuer, keys in issuers.items()}
        self._algorithms = get_default_algorithms()
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The token's claims, once every check has passed.

        Args:
            authorization: the request's ``Authorization`` header.
            audience: the URL of the service called; the token's ``aud`` must name it.

        Raises:
            RequestError: (401) saying which check failed.
        """
        if not authorization:
            raise _unauthorized("the request has no Authorization header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("the Authorization header is not 'Bearer <JWT>'")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise _unauthorized(f"not a JWT: {error}") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise _unauthorized(
                f"algorithm {json.dumps(algorithm)} is not accepted (only {', '.join(ALGORITHMS)})"
            )
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self.issuers:
            raise _unauthorized(f"issuer {json.dumps(issuer)} is not trusted")
        kid = header.get("kid")
        keys = [k for k in self.issuers[issuer] if kid is None or k.kid in (None, kid)]
        keys = [k for k in keys if k.algorithm in (None, algorithm)]
        if not keys:
            raise _unauthorized(f"no key of {issuer} has kid {json.dumps(kid)} for {algorithm}")
        claims = self._decode(token, keys, str(algorithm), issuer, audience)
        self._remember(claims)
        return claims

    def _decode(
        self, token: str, keys: list[IssuerKey], algorithm: str, issuer: str, audience: str
    ) -> dict[str, Any]:
        failure: jwt.PyJWTError | None = None
        for key in keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key.key,
                    algorithms=[algorithm],
                    issuer=issuer,
                    audience=[audience, audience.rstrip("/")],
                    leeway=LEEWAY_SECONDS,
                    options={"require": ["iss", "aud", "exp", "iat", "jti"]},
                )
                return claims
            except jwt.InvalidSignatureError as error:
                failure = error  # another key of the issuer may have signed it
            except jwt.ExpiredSignatureError:
                raise _unauthorized("the token has expired") from None
            except jwt.InvalidAudienceError:
                raise _unauthorized(f"the token's aud is not {audience}") from None
            except jwt.PyJWTError as error:
                raise _unauthorized(str(error)) from None
        raise _unauthorized(f"signature does not verify with the keys of {issuer}: {failure}")

    def _remember(self, claims: Mapping[str, Any]) -> None:
        # A token is good for one call: a replayed jti is refused until the token expires.
        jti = str(claims["jti"])
        expires = float(claims["exp"])
        now = time.time()
        with self._lock:
            while self._seen and (
                len(self._seen) >= MAX_REMEMBERED_JTI
                or next(iter(self._seen.values())) < now - LEEWAY_SECONDS
            ):
                self._seen.popitem(last=False)
            if jti in self._seen:
                raise _unauthorized(f"jti {jti!r} was already used")
            self._seen[jti] = expires
