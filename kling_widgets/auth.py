"""Credentials: a gateway key, or a Kling access/secret key pair signed into a short-lived JWT.

The secret values live only in these objects; their reprs show none of them, and every value is
registered with the redactor so that no message or log line can carry it.
"""

from __future__ import annotations

import threading
import time

from ._redact import SecretHeader, register_secret


class GatewayAuth:
    """A plain API key sent as ``Authorization: Bearer <key>``."""

    def __init__(self, api_key: str) -> None:
        self._key = api_key
        self._handle = register_secret(api_key)

    def header(self) -> str:
        return SecretHeader(f"Bearer {self._key}")

    def identity(self) -> str:
        """A fingerprint of the account (never the key): tasks of one account are watched once."""
        import hashlib

        return "key:" + hashlib.sha256(self._key.encode()).hexdigest()[:16]

    def matches(self, keys: tuple[str, ...]) -> bool:
        """Whether the key is one of ``keys`` (the built-in simulator's), without ever showing it."""
        return self._key in keys

    def refresh(self) -> bool:
        """A plain key cannot be renewed."""
        return False

    def __repr__(self) -> str:
        return "GatewayAuth(api_key=***)"


class JWTAuth:
    """Kling direct: an HS256 JWT ``{iss: access_key, exp: now+ttl, nbf: now-5}`` signed with the secret
    key, re-signed ``margin`` seconds before it expires (and on demand after a 1004 answer)."""

    def __init__(self, access_key: str, secret_key: str, *, ttl: int = 1800, margin: int = 300) -> None:
        self.access_key = access_key
        self._secret = secret_key
        self._handles = [register_secret(secret_key)]
        self._ttl, self._margin = ttl, margin
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            now = time.time()
            if self._token is None or now >= self._expires - self._margin:
                import jwt  # PyJWT, imported when first needed

                self._expires = now + self._ttl
                payload = {"iss": self.access_key, "exp": int(self._expires), "nbf": int(now) - 5}
                self._token = jwt.encode(payload, self._secret, algorithm="HS256", headers={"typ": "JWT"})
                self._handles = [*self._handles[:1], register_secret(self._token)]
            return self._token

    def header(self) -> str:
        return SecretHeader(f"Bearer {self.token()}")

    def identity(self) -> str:
        """The account this key pair belongs to (the access key is an identifier, not a secret)."""
        import hashlib

        return "ak:" + hashlib.sha256(self.access_key.encode()).hexdigest()[:16]

    def refresh(self) -> bool:
        """Forget the current token so the next request signs a fresh one."""
        with self._lock:
            self._token = None
        return True

    def __repr__(self) -> str:
        return "JWTAuth(access_key=***, secret_key=***)"


Auth = GatewayAuth | JWTAuth
