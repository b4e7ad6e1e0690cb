"""TokenVerifier: what a bearer token must satisfy, and how each failure reads."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from shared.adapters.jwt_auth import TokenVerifier
from shared.config import AuthSettings
from shared.errors import AuthUnavailable, Unauthenticated
from shared.models.principal import Principal
from tests.helpers.auth_support import (
    AUDIENCE,
    ISSUER,
    SigningKey,
    bearer,
    claims,
    ec_key,
    hs256_token,
    mint,
    rsa_key,
    serve_jwks,
    unreachable_url,
    unsigned_token,
    write_jwks,
)


@pytest.fixture(scope="module")
def rsa() -> SigningKey:
    return rsa_key("rsa-1")


@pytest.fixture(scope="module")
def ec() -> SigningKey:
    return ec_key("ec-1")


@pytest.fixture
def verifier(tmp_path: Path, rsa: SigningKey) -> TokenVerifier:
    path = write_jwks(tmp_path / "jwks.json", rsa)
    return TokenVerifier(AuthSettings(jwks_file=str(path), issuer=ISSUER, audience=AUDIENCE))


def rejection(verifier: TokenVerifier, header: str | None) -> str:
    with pytest.raises(Unauthenticated) as info:
        verifier.verify(header)
    return info.value.message


def test_valid_rs256_token_from_jwks_file(verifier: TokenVerifier, rsa: SigningKey) -> None:
    token = mint(rsa, claims(sub="alice", org_id="acme"))
    assert verifier.verify(bearer(token)) == Principal(user_id="alice", tenant_id="acme")


def test_valid_es256_token_from_jwks_url(ec: SigningKey) -> None:
    with serve_jwks(ec) as server:
        verifier = TokenVerifier(
            AuthSettings(jwks_url=server.url, issuer=ISSUER, audience=AUDIENCE)
        )
        principal = verifier.verify(bearer(mint(ec, claims(sub="bob", org_id="globex"))))
    assert principal == Principal(user_id="bob", tenant_id="globex")


def test_custom_tenant_claim_is_honoured(tmp_path: Path, rsa: SigningKey) -> None:
    path = write_jwks(tmp_path / "jwks.json", rsa)
    verifier = TokenVerifier(
        AuthSettings(jwks_file=str(path), issuer=ISSUER, audience=AUDIENCE, tenant_claim="tid")
    )
    token = mint(rsa, claims(org_id=None, tid="initech"))
    assert verifier.verify(bearer(token)).tenant_id == "initech"


def test_scheme_is_case_insensitive(verifier: TokenVerifier, rsa: SigningKey) -> None:
    assert verifier.verify(f"bEaReR {mint(rsa)}").user_id == "user-1"


@pytest.mark.parametrize("header", [None, "", "   ", "Bearer", "Bearer  "])
def test_missing_token(verifier: TokenVerifier, header: str | None) -> None:
    assert rejection(verifier, header) == "missing bearer token"


def test_non_bearer_scheme(verifier: TokenVerifier, rsa: SigningKey) -> None:
    assert "Bearer" in rejection(verifier, f"Basic {mint(rsa)}")


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "e30.e30.e30 extra"])
def test_malformed_token(verifier: TokenVerifier, token: str) -> None:
    assert rejection(verifier, f"Bearer {token}") == "token is malformed"


def test_expired_token(verifier: TokenVerifier, rsa: SigningKey) -> None:
    token = mint(rsa, claims(ttl_seconds=-120))
    assert rejection(verifier, bearer(token)) == "token expired"


def test_recently_expired_token_is_within_clock_skew(
    verifier: TokenVerifier, rsa: SigningKey
) -> None:
    token = mint(rsa, claims(ttl_seconds=-10))
    assert verifier.verify(bearer(token)).user_id == "user-1"


def test_wrong_audience(verifier: TokenVerifier, rsa: SigningKey) -> None:
    token = mint(rsa, claims(aud="another-app"))
    assert rejection(verifier, bearer(token)) == "token audience is not accepted"


def test_missing_audience_when_one_is_configured(verifier: TokenVerifier, rsa: SigningKey) -> None:
    token = mint(rsa, claims(aud=None))
    assert "aud" in rejection(verifier, bearer(token))


def test_wrong_issuer(verifier: TokenVerifier, rsa: SigningKey) -> None:
    token = mint(rsa, claims(iss="https://evil.example"))
    assert rejection(verifier, bearer(token)) == "token issuer is not accepted"


def test_signed_by_another_key_with_same_kid(verifier: TokenVerifier) -> None:
    impostor = rsa_key("rsa-1")
    assert rejection(verifier, bearer(mint(impostor))) == "token signature is invalid"


def test_unknown_kid(verifier: TokenVerifier) -> None:
    stranger = rsa_key("someone-else")
    assert rejection(verifier, bearer(mint(stranger))) == "token signing key is not known"


def test_alg_none_is_rejected(verifier: TokenVerifier) -> None:
    token = unsigned_token(claims(), kid="rsa-1")
    assert rejection(verifier, bearer(token)) == "token algorithm is not accepted"


def test_hs256_signed_with_public_key_is_rejected(verifier: TokenVerifier, rsa: SigningKey) -> None:
    token = hs256_token(claims(), secret=rsa.public_pem(), kid="rsa-1")
    assert rejection(verifier, bearer(token)) == "token algorithm is not accepted"


def test_missing_sub(verifier: TokenVerifier, rsa: SigningKey) -> None:
    assert rejection(verifier, bearer(mint(rsa, claims(sub=None)))) == "token has no sub claim"


def test_empty_sub(verifier: TokenVerifier, rsa: SigningKey) -> None:
    assert rejection(verifier, bearer(mint(rsa, claims(sub="")))) == "token has no sub claim"


def test_missing_tenant_claim(verifier: TokenVerifier, rsa: SigningKey) -> None:
    token = mint(rsa, claims(org_id=None))
    assert rejection(verifier, bearer(token)) == "token has no org_id claim"


def test_non_string_tenant_claim(verifier: TokenVerifier, rsa: SigningKey) -> None:
    token = mint(rsa, claims(org_id=42))  # type: ignore[arg-type]
    assert rejection(verifier, bearer(token)) == "token has no org_id claim"


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("offset", [-10, 300])
def test_a_time_claim_that_is_a_numeric_string_is_rejected(
    verifier: TokenVerifier, rsa: SigningKey, name: str, offset: int
) -> None:
    """RFC 7519: NumericDate is a JSON number; "1795921579" is a string that only looks like one."""
    payload = claims()
    payload[name] = str(int(time.time()) + (offset if name == "exp" else -abs(offset)))

    assert rejection(verifier, bearer(mint(rsa, payload))) == f"token claim {name} must be a number"


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    "value", [True, [1], {"t": 1}, 1e400], ids=["bool", "list", "object", "inf"]
)
def test_a_time_claim_of_another_type_is_rejected(
    verifier: TokenVerifier, rsa: SigningKey, name: str, value: object
) -> None:
    payload = claims()
    payload[name] = value

    with pytest.raises(Unauthenticated):
        verifier.verify(bearer(mint(rsa, payload)))


def test_a_fractional_time_claim_is_a_number_and_accepted(
    verifier: TokenVerifier, rsa: SigningKey
) -> None:
    now = time.time()
    payload = claims(sub="alice", org_id="acme")
    payload.update(exp=now + 300.5, nbf=now - 0.5, iat=now - 0.25)

    assert verifier.verify(bearer(mint(rsa, payload))) == Principal("alice", "acme")


@pytest.mark.parametrize("value", ["", " ", "\t\n", 7, ["alice"], None])
def test_sub_must_be_a_non_empty_string(
    verifier: TokenVerifier, rsa: SigningKey, value: object
) -> None:
    payload = claims()
    payload["sub"] = value

    assert rejection(verifier, bearer(mint(rsa, payload))) == "token has no sub claim"


@pytest.mark.parametrize("value", ["", " ", 7, ["acme"], {"id": "acme"}, True])
def test_the_tenant_claim_must_be_a_non_empty_string(
    verifier: TokenVerifier, rsa: SigningKey, value: object
) -> None:
    payload = claims()
    payload["org_id"] = value

    assert rejection(verifier, bearer(mint(rsa, payload))) == "token has no org_id claim"


def test_missing_exp(verifier: TokenVerifier, rsa: SigningKey) -> None:
    payload = claims()
    del payload["exp"]
    assert rejection(verifier, bearer(mint(rsa, payload))) == "token has no exp claim"


def test_error_messages_and_logs_never_contain_the_token(
    verifier: TokenVerifier, rsa: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad_tokens = [
        mint(rsa, claims(ttl_seconds=-120)),
        mint(rsa, claims(aud="x")),
        mint(rsa_key("rsa-1")),
        mint(rsa_key("other")),
        mint(rsa, claims(org_id=None)),
        hs256_token(claims(), secret=rsa.public_pem(), kid="rsa-1"),
        "x" + mint(rsa),
    ]
    for token in bad_tokens:
        message = rejection(verifier, bearer(token))
        signature = token.rsplit(".", 1)[-1]
        assert token not in message
        assert signature not in message
        assert signature not in caplog.text


def test_jwks_url_down_is_unavailable_not_unauthenticated(rsa: SigningKey) -> None:
    verifier = TokenVerifier(
        AuthSettings(jwks_url=unreachable_url(), issuer=ISSUER, audience=AUDIENCE)
    )
    with pytest.raises(AuthUnavailable):
        verifier.verify(bearer(mint(rsa)))


def test_jwks_url_answering_503_is_unavailable(rsa: SigningKey) -> None:
    with serve_jwks(rsa) as server:
        server.status = 503
        verifier = TokenVerifier(
            AuthSettings(jwks_url=server.url, issuer=ISSUER, audience=AUDIENCE)
        )
        with pytest.raises(AuthUnavailable):
            verifier.verify(bearer(mint(rsa)))


def test_jwks_url_answering_garbage_is_unavailable(rsa: SigningKey) -> None:
    with serve_jwks(rsa) as server:
        server.raw_body = b"<html>gateway error</html>"
        verifier = TokenVerifier(
            AuthSettings(jwks_url=server.url, issuer=ISSUER, audience=AUDIENCE)
        )
        with pytest.raises(AuthUnavailable):
            verifier.verify(bearer(mint(rsa)))


def test_jwks_is_fetched_once_for_several_verifications(ec: SigningKey) -> None:
    with serve_jwks(ec) as server:
        verifier = TokenVerifier(
            AuthSettings(jwks_url=server.url, issuer=ISSUER, audience=AUDIENCE)
        )
        for user in ("u1", "u2", "u3", "u4"):
            assert verifier.verify(bearer(mint(ec, claims(sub=user)))).user_id == user
        assert server.requests == 1


def test_unconfigured_verifier_rejects_and_tells_the_operator(
    rsa: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = TokenVerifier(AuthSettings(issuer=ISSUER))
    with caplog.at_level(logging.ERROR, logger="shared.adapters.jwt_auth"):
        message = rejection(verifier, bearer(mint(rsa)))
    assert message == "authentication is not configured"
    assert "AUTH_JWKS_URL" in caplog.text


def test_unreadable_jwks_file_is_reported_as_not_configured(
    tmp_path: Path, rsa: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "nope.json"
    verifier = TokenVerifier(AuthSettings(jwks_file=str(missing), issuer=ISSUER))
    with caplog.at_level(logging.ERROR, logger="shared.adapters.jwt_auth"):
        message = rejection(verifier, bearer(mint(rsa)))
    assert message == "authentication is not configured"
    assert str(missing) in caplog.text


def test_token_without_kid_uses_the_only_key(verifier: TokenVerifier, rsa: SigningKey) -> None:
    assert verifier.verify(bearer(mint(rsa, omit_kid=True))).user_id == "user-1"


def test_token_without_kid_is_refused_when_several_keys_could_match(
    tmp_path: Path, rsa: SigningKey, ec: SigningKey
) -> None:
    path = write_jwks(tmp_path / "jwks.json", rsa, ec)
    verifier = TokenVerifier(AuthSettings(jwks_file=str(path), issuer=ISSUER, audience=AUDIENCE))
    assert rejection(verifier, bearer(mint(rsa, omit_kid=True))) == (
        "token signing key is not known"
    )


def test_token_alg_must_match_the_published_key(
    tmp_path: Path, rsa: SigningKey, ec: SigningKey
) -> None:
    path = write_jwks(tmp_path / "jwks.json", ec)
    verifier = TokenVerifier(AuthSettings(jwks_file=str(path), issuer=ISSUER, audience=AUDIENCE))
    token = mint(rsa, kid=ec.kid)  # RS256 header pointing at the EC key
    assert rejection(verifier, bearer(token)) == "token algorithm is not accepted"
