"""Sign-in through an OpenID Connect provider, the client side: the authorization-code flow with PKCE.

authlib writes the protocol (the authorization URL, PKCE's S256 challenge, the random state, nonce and
code verifier, the token request); httpx2 carries it (authlib's own httpx integration needs the
``httpx`` package, which the hub does not ship); PyJWT checks the id_token's signature against the
provider's published keys (JWKS), then its ``iss``, ``aud`` (and ``azp``), ``exp``, ``iat``, the
sign-in's ``nonce`` and, when present, ``at_hash``. Only asymmetric algorithms are accepted: never
``none``, never an HMAC keyed with the client secret.

Every failure is a :class:`SignInError` with the HTTP status the callback answers and a message that
names the reason and what to do; none carries a secret, a code or a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import jwt
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from hub.errors import GoosukeError
from hub.settings import Settings

# Asymmetric JWS algorithms only: an id_token signed with "none" or HS256 (keyed with the client
# secret, which this hub holds too) is never accepted.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
METADATA_TTL = 300.0  # seconds the discovery document and the keys are reused
LEEWAY = 60  # seconds of clock difference tolerated on exp / iat
RESTART = "Start again at /auth/oidc/login."


class SignInError(GoosukeError):
    """A sign-in that cannot go on: ``status`` is what the callback answers (4xx, or 502 for the provider)."""

    def __init__(self, status: int, title: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.reason = reason  # a short code for programs: state_mismatch, bad_id_token, provider_unreachable...


def provider_error(issuer: str, reason: str, code: str = "provider_failed") -> SignInError:
    return SignInError(502, "Identity provider failed", f"The identity provider at {issuer} {reason}", code)


def bad_token(reason: str) -> SignInError:
    return SignInError(
        502,
        "Bad token from the identity provider",
        f"The identity provider's id_token was refused: {reason}",
        "bad_id_token",
    )


@dataclass(frozen=True)
class Provider:
    """What the discovery document says (only what the hub uses)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]


@dataclass(frozen=True)
class Pending:
    """One sign-in between login and callback: the secrets the callback must see again."""

    state: str
    nonce: str
    verifier: str
    then: str = ""  # where the callback goes: "" answers the token as JSON, "console:<page>" opens a console session

    @classmethod
    def new(cls, then: str = "") -> Pending:
        return cls(state=generate_token(32), nonce=generate_token(32), verifier=generate_token(64), then=then)


@dataclass(frozen=True)
class Identity:
    """A verified sign-in: who the provider says the user is, and their groups."""

    issuer: str
    subject: str
    claims: dict[str, Any]
    groups: list[str] = field(default_factory=list)


SecretSource = Callable[[], Awaitable[str | None]]


class OidcClient:
    """The hub as an OpenID Connect relying party. One per hub; the HTTP client lives as long as it."""

    def __init__(self, settings: Settings, http: httpx2.AsyncClient, client_secret: SecretSource) -> None:
        self.settings = settings
        self.http = http
        self.client_secret = client_secret
        self._provider: tuple[float, Provider] | None = None
        self._keys: tuple[float, dict[str, Any]] | None = None

    @property
    def configured(self) -> bool:
        return bool(self.settings.oidc_issuer and self.settings.oidc_client_id)

    @property
    def issuer(self) -> str:
        return self.settings.oidc_issuer or ""

    @property
    def client_id(self) -> str:
        return self.settings.oidc_client_id or ""

    # -- talking to the provider ------------------------------------------------------------

    async def _get_json(self, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self.http.get(url, **kwargs)
        except httpx2.HTTPError as exc:
            raise self._unreachable(exc) from None
        if response.status_code != 200:
            raise provider_error(self.issuer, f"answered {response.status_code} for its {what} ({url}).")
        return self._json(response, what)

    def _unreachable(self, exc: Exception) -> SignInError:
        return provider_error(
            self.issuer,
            f"could not be reached ({type(exc).__name__}). Check GOOSUKE_OIDC_ISSUER and that the provider is up, "
            "then try again.",
            "provider_unreachable",
        )

    def _json(self, response: httpx2.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise provider_error(self.issuer, f"sent a {what} that is not a JSON object.")
        return body

    async def provider(self) -> Provider:
        """The discovery document (cached for a few minutes); its ``issuer`` must be the configured one."""
        now = time.monotonic()
        if self._provider and self._provider[0] > now:
            return self._provider[1]
        doc = await self._get_json(f"{self.issuer}/.well-known/openid-configuration", "discovery document")
        if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
            raise provider_error(
                self.issuer,
                f"names another issuer in its discovery document ({doc.get('issuer')!r}); set GOOSUKE_OIDC_ISSUER "
                "to exactly the provider's issuer.",
            )
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
        if missing:
            raise provider_error(self.issuer, f"lists no {', '.join(missing)} in its discovery document.")
        offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        found = Provider(
            issuer=self.issuer,
            authorization_endpoint=str(doc["authorization_endpoint"]),
            token_endpoint=str(doc["token_endpoint"]),
            jwks_uri=str(doc["jwks_uri"]),
            userinfo_endpoint=str(doc["userinfo_endpoint"]) if doc.get("userinfo_endpoint") else None,
            algorithms=tuple(alg for alg in offered if alg in ALGORITHMS) or ("RS256",),
        )
        self._provider = (now + METADATA_TTL, found)
        return found

    async def authorization_url(self, pending: Pending) -> str:
        """Where the browser goes to sign in: code flow, the state, the nonce, PKCE S256."""
        provider = await self.provider()
        return str(
            prepare_grant_uri(
                provider.authorization_endpoint,
                self.client_id,
                "code",
                redirect_uri=self.settings.oidc_redirect_uri,
                scope=" ".join(self.settings.oidc_scopes),
                state=pending.state,
                nonce=pending.nonce,
                code_challenge=create_s256_code_challenge(pending.verifier),
                code_challenge_method="S256",
            )
        )

    async def sign_in(self, code: str, pending: Pending) -> Identity:
        """Trade the code for tokens, verify the id_token, and read the groups (from userinfo if need be)."""
        provider = await self.provider()
        tokens = await self._exchange(provider, code, pending)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise bad_token("the token response holds no id_token (is `openid` among GOOSUKE_OIDC_SCOPES?).")
        access_token = tokens.get("access_token")
        claims = await self.verify(id_token, provider, nonce=pending.nonce, access_token=access_token)
        claim = self.settings.oidc_groups_claim
        if claim not in claims and provider.userinfo_endpoint and isinstance(access_token, str):
            info = await self._get_json(
                provider.userinfo_endpoint, "userinfo", headers={"Authorization": f"Bearer {access_token}"}
            )
            if info.get("sub") != claims["sub"]:
                raise bad_token("its userinfo answer is about another subject than the id_token.")
            claims = {**info, **claims}
        return Identity(self.issuer, str(claims["sub"]), claims, groups_of(claims.get(claim)))

    async def _exchange(self, provider: Provider, code: str, pending: Pending) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.oidc_redirect_uri,
            "code_verifier": pending.verifier,
        }
        headers = {"Accept": "application/json"}
        secret = await self.client_secret()
        if secret is None:
            form["client_id"] = self.client_id  # a public client names itself in the body
        else:  # client_secret_basic, as authlib's clients send it
            pair = base64.b64encode(f"{self.client_id}:{secret}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        try:
            response = await self.http.post(provider.token_endpoint, data=form, headers=headers)
        except httpx2.HTTPError as exc:
            raise self._unreachable(exc) from None
        if response.status_code == 200:
            return self._json(response, "token response")
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = str(body.get("error", "")) if isinstance(body, dict) else ""
        described = str(body.get("error_description", ""))[:200] if isinstance(body, dict) else ""
        said = f"{error}: {described}" if described else error or f"HTTP {response.status_code}"
        if error == "invalid_grant":
            raise SignInError(
                400,
                "Sign-in failed",
                f"The identity provider refused the code ({said}): it expired or was used. {RESTART}",
                "code_refused",
            )
        if error in ("invalid_client", "unauthorized_client"):
            raise provider_error(
                self.issuer,
                f"refused the hub's client credentials ({said}): check GOOSUKE_OIDC_CLIENT_ID and the vault secret "
                "named by GOOSUKE_OIDC_CLIENT_SECRET_NAME.",
            )
        raise provider_error(self.issuer, f"refused to trade the code for tokens ({said}).")

    # -- the id_token ----------------------------------------------------------------------

    async def _key_set(self, provider: Provider, refresh: bool) -> dict[str, Any]:
        now = time.monotonic()
        if self._keys and self._keys[0] > now and not refresh:
            return self._keys[1]
        keys = await self._get_json(provider.jwks_uri, "keys (JWKS)")
        self._keys = (now + METADATA_TTL, keys)
        return keys

    async def _signing_key(self, provider: Provider, header: dict[str, Any]) -> jwt.PyJWK:
        kid = header.get("kid")
        for refresh in (False, True):  # a kid we have not seen: the provider may have rotated its keys
            jwks = await self._key_set(provider, refresh)
            candidates = [
                key
                for key in jwks.get("keys", [])
                if isinstance(key, dict) and key.get("use", "sig") == "sig" and (kid is None or key.get("kid") == kid)
            ]
            if len(candidates) == 1 or (candidates and kid is not None):
                try:
                    return jwt.PyJWK(candidates[0], algorithm=header.get("alg"))
                except jwt.PyJWTError:
                    raise bad_token("the provider's key for it cannot be read.") from None
        raise bad_token(f"none of the provider's keys (JWKS) is its key (kid {kid!r}).")

    async def verify(
        self, id_token: str, provider: Provider, *, nonce: str, access_token: object = None
    ) -> dict[str, Any]:
        """The id_token's claims once its signature, issuer, audience, times and nonce are right."""
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise bad_token("it is not a well-formed JWT.") from None
        alg = header.get("alg")
        if alg not in provider.algorithms:
            raise bad_token(f"its algorithm {alg!r} is not accepted (only {', '.join(provider.algorithms)}).")
        key = await self._signing_key(provider, header)
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=[alg],
                audience=self.client_id,
                issuer=provider.issuer,
                leeway=LEEWAY,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.InvalidSignatureError:
            raise bad_token("its signature does not match the provider's keys (JWKS); it was altered.") from None
        except jwt.ExpiredSignatureError:
            raise bad_token("it has expired (exp); check that the clocks of the hub and the provider agree.") from None
        except jwt.ImmatureSignatureError:
            raise bad_token("it was issued in the future (iat/nbf); check the clocks.") from None
        except jwt.InvalidAudienceError:
            raise bad_token(f"it is for another client (aud); this hub is {self.client_id!r}.") from None
        except jwt.InvalidIssuerError:
            raise bad_token(f"it names another issuer (iss) than {provider.issuer}.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise bad_token(f"it lacks the {exc.claim!r} claim.") from None
        except jwt.PyJWTError as exc:
            raise bad_token(f"it does not verify ({type(exc).__name__}).") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise bad_token(f"it names several audiences and its azp is not this hub ({self.client_id!r}).")
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInError(
                401,
                "Sign-in refused",
                f"The id_token's nonce is not this sign-in's: it was minted for another. {RESTART}",
                "nonce_mismatch",
            )
        if (
            "at_hash" in claims
            and isinstance(access_token, str)
            and not hmac.compare_digest(str(claims["at_hash"]), half_hash(access_token, alg))
        ):
            raise bad_token("its at_hash does not match the access token that came with it.")
        return claims


def half_hash(value: str, alg: str) -> str:
    """OIDC's ``at_hash``: the left half of the hash the JWS algorithm uses, base64url without padding."""
    digest = _HASHES.get(alg[-3:], hashlib.sha256)(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def groups_of(value: object) -> list[str]:
    """The groups claim as a list of names (a single string is one group; anything else is none)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value if isinstance(item, str | int)]
    return []
