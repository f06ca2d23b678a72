"""API tokens: a YAML file of ``name: token`` pairs, checked in constant time; the name says who called.

Tokens never reach a log or an error message: a refused request is logged with the reason only, an accepted one
with the token's name.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from streamer.web.settings import JwtSettings

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16


class TokenFileError(ValueError):
    """The tokens file cannot be used; the message names the file and the problem, never a token."""


class JwtVerifier:
    """Checks JWTs: signature with the configured key and algorithms, ``exp`` required, audience and issuer."""

    def __init__(self, settings: JwtSettings) -> None:
        import jwt  # PyJWT, in the web extra

        self._jwt = jwt
        self.settings = settings
        try:
            self._key: str | bytes = settings.key_file.read_bytes().strip()
        except OSError as exc:
            raise TokenFileError(f"web.jwt.key_file {settings.key_file}: {exc.strerror}") from None
        if not self._key:
            raise TokenFileError(f"web.jwt.key_file {settings.key_file} is empty")

    def name_of(self, token: str) -> str | None:
        s = self.settings
        try:
            claims = self._jwt.decode(
                token,
                self._key,
                algorithms=list(s.algorithms),
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_s,
                options={"require": ["exp"], "verify_aud": s.audience is not None},
            )
        except self._jwt.PyJWTError as exc:
            log.info("JWT refused: %s", type(exc).__name__)
            return None
        return f"jwt:{claims.get(s.name_claim, '?')}"


@dataclass(frozen=True, slots=True)
class ApiTokens:
    """Token name → token bytes, and optionally a JWT verifier."""

    tokens: tuple[tuple[str, bytes], ...]
    jwt: JwtVerifier | None = None

    @classmethod
    def from_file(cls, path: Path) -> ApiTokens:
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise TokenFileError(f"tokens file not found: {path}") from None
        except OSError as exc:
            raise TokenFileError(f"cannot read tokens file {path}: {exc.strerror}") from None
        except yaml.YAMLError:
            raise TokenFileError(f"{path}: not valid YAML (expected `name: token` lines)") from None
        if not isinstance(data, dict) or not data:
            raise TokenFileError(f"{path}: expected a mapping of `name: token` lines")
        pairs: list[tuple[str, bytes]] = []
        for name, token in data.items():
            if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
                raise TokenFileError(
                    f"{path}: token {name!r} must be a string of at least {MIN_TOKEN_LENGTH} characters"
                )
            pairs.append((str(name), token.encode()))
        return cls(tuple(pairs))

    def name_of(self, presented: str) -> str | None:
        """The name of the token presented, or None; every token is compared, each in constant time."""
        given = presented.encode()
        found: str | None = None
        for name, token in self.tokens:
            if hmac.compare_digest(given, token):
                found = name
        if found is None and self.jwt is not None and presented.count(".") == 2:
            found = self.jwt.name_of(presented)
        return found

    def check_header(self, authorization: str | None) -> str | None:
        """The caller's token name from an ``Authorization`` header (``Bearer <token>``, or the bare token, as
        the seed API's clients send it), or None."""
        if not authorization:
            return None
        scheme, _, rest = authorization.strip().partition(" ")
        presented = rest.strip() if scheme.lower() == "bearer" and rest else authorization.strip()
        return self.name_of(presented)
