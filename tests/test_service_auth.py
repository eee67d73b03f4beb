"""The EHR's bearer token: issuer allow-list, alg none refused, expiry, audience, replay.

Keys are made in the test; the server is started with ``--trust ISSUER=KEYFILE``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mbc_rules.service.auth import KeyFileError, TokenVerifier, load_keys, parse_issuer
from mbc_rules.service.contract import RequestError
from tests.servicekit import Server, error_of, hook_call, post, running_server

ISSUER = "https://ehr.example.org"
AUDIENCE = "http://cds.example.org/cds-services/mbc-rules-patient-view"


def _pem(key: Any) -> bytes:
    public: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(key: Any, alg: str = "ES384", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": "ehr-1"})


def unsigned(**claims: Any) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, "jti": "x", **claims}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


@pytest.fixture(scope="module")
def keyfile(tmp_path_factory: pytest.TempPathFactory, ec_key: Any, rsa_key: Any) -> Path:
    jwks = {
        "keys": [
            {
                **json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())),
                "kid": "ehr-1",
                "alg": "ES384",
            },
            {
                **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())),
                "kid": "ehr-1",
                "alg": "RS384",
            },
        ]
    }
    path = tmp_path_factory.mktemp("keys") / "ehr.jwks.json"
    path.write_text(json.dumps(jwks), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def verifier(keyfile: Path) -> TokenVerifier:
    return TokenVerifier({ISSUER: load_keys(keyfile)})


def _refused(verifier: TokenVerifier, header: str | None) -> str:
    with pytest.raises(RequestError) as raised:
        verifier.verify(header, AUDIENCE)
    assert raised.value.status == 401
    return raised.value.message


def test_a_good_token_passes_once(verifier: TokenVerifier, ec_key: Any, rsa_key: Any) -> None:
    good = token(ec_key)
    assert verifier.verify(f"Bearer {good}", AUDIENCE)["iss"] == ISSUER
    assert "already used" in _refused(verifier, f"Bearer {good}")
    assert verifier.verify(f"Bearer {token(rsa_key, 'RS384')}", AUDIENCE)["iss"] == ISSUER


def test_tokens_that_must_be_refused(verifier: TokenVerifier, ec_key: Any) -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    assert "no Authorization header" in _refused(verifier, None)
    assert "not 'Bearer <JWT>'" in _refused(verifier, "Basic dXNlcjpwdw==")
    assert "not a JWT" in _refused(verifier, "Bearer not.a.jwt")
    assert '"none" is not accepted' in _refused(verifier, f"Bearer {unsigned()}")
    hs = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "exp": time.time() + 60, "iat": time.time(), "jti": "h"},
        "a-secret-shared-by-nobody-at-all-32b",
        algorithm="HS256",
    )
    assert '"HS256" is not accepted' in _refused(verifier, f"Bearer {hs}")
    assert "expired" in _refused(verifier, f"Bearer {token(ec_key, exp=int(time.time()) - 120)}")
    assert "not trusted" in _refused(verifier, f"Bearer {token(ec_key, iss='https://evil')}")
    assert "aud is not" in _refused(verifier, f"Bearer {token(ec_key, aud='https://other')}")
    assert "signature does not verify" in _refused(verifier, f"Bearer {token(other)}")
    assert "jti" in _refused(verifier, f"Bearer {token(ec_key, jti=None)}")
    assert "exp" in _refused(verifier, f"Bearer {token(ec_key, exp=None)}")


def test_key_files_are_checked_at_start(tmp_path: Path, ec_key: Any) -> None:
    pem = tmp_path / "ehr.pem"
    pem.write_bytes(_pem(ec_key))
    issuer, keys = parse_issuer(f"{ISSUER}={pem}")
    assert issuer == ISSUER
    assert len(keys) == 1
    assert TokenVerifier({issuer: keys}).verify(f"Bearer {token(ec_key)}", AUDIENCE)
    with pytest.raises(KeyFileError, match="ISSUER=KEYFILE"):
        parse_issuer("no-equals-sign")
    with pytest.raises(KeyFileError, match="No such file"):
        load_keys(tmp_path / "absent.json")
    secret = tmp_path / "oct.json"
    secret.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}]}))
    with pytest.raises(KeyFileError, match="not an RSA or EC public key"):
        load_keys(secret)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(KeyFileError, match="not a PEM public key"):
        load_keys(garbage)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, keyfile: Path) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("guarded") / "server.log"
    with running_server(
        log, "--trust", f"{ISSUER}={keyfile}", "--public-url", "http://cds.example.org"
    ) as server:
        yield server


def test_the_server_checks_the_bearer_token(guarded: Server, ec_key: Any) -> None:
    call = hook_call("patient-view", None)  # no data: a 412 once the token is accepted
    service = "mbc-rules-patient-view"
    assert "no Authorization" in error_of(post(guarded.base, service, call), 401)
    none = {"Authorization": f"Bearer {unsigned()}"}
    assert "none" in error_of(post(guarded.base, service, call, none), 401)
    expired = {"Authorization": f"Bearer {token(ec_key, exp=int(time.time()) - 120)}"}
    assert "expired" in error_of(post(guarded.base, service, call, expired), 401)
    good = {"Authorization": f"Bearer {token(ec_key)}"}
    assert "fhirServer" in error_of(post(guarded.base, service, call, good), 412)
    assert "already used" in error_of(post(guarded.base, service, call, good), 401)
    wrong_service = {"Authorization": f"Bearer {token(ec_key)}"}
    answer = post(guarded.base, "mbc-rules-order-select", call, wrong_service)
    assert "aud is not" in error_of(answer, 401)
