"""Configuration of the HTTP API (``web``).

Settings only: config loading imports this module, so it imports nothing of the web stack.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.paths import ConfigPath

DEFAULT_WEB_PORT = 9110


class RecognizeSettings(BaseModel):
    """``POST /v1/recognize``: limits and batching."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest request body (413 above it; base64 JSON counts)."
    )
    max_side: int = Field(default=8192, ge=16, description="Largest image width or height, pixels (413 above it).")
    max_pixels: int = Field(default=40_000_000, ge=256, description="Largest width × height (413 above it).")
    max_batch: int = Field(
        default=16, ge=1, description="Most images of concurrent requests detected and classified in one model call."
    )
    max_wait_ms: float = Field(
        default=5.0, ge=0.0, description="How long the first request of a batch waits for others to join it."
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Labels per classifier head in the answer.")


class JwtSettings(BaseModel):
    """Bearer tokens that are JWTs, checked against a key (beside or instead of the tokens file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_file: ConfigPath = Field(
        description="The HMAC secret (HS256/384/512) or the PEM public key (RS*/ES*/PS*/EdDSA) that signs the tokens."
    )
    algorithms: tuple[str, ...] = Field(default=("HS256",), min_length=1, description="Accepted algorithms.")
    audience: str | None = Field(default=None, description="Required `aud` claim, or None: not checked.")
    issuer: str | None = Field(default=None, description="Required `iss` claim, or None: not checked.")
    name_claim: str = Field(default="sub", description="Claim naming the caller in the logs.")
    leeway_s: float = Field(default=30.0, ge=0, description="Clock skew allowed on `exp` and `nbf`.")


class WebSettings(BaseModel):
    """The HTTP API: the recognise endpoint and the sightings search (the ``[web]`` extra)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="Serve the HTTP API (needs `pip install '.[web]'`).")
    host: str = Field(default="127.0.0.1", description="Address to listen on: this machine only by default.")
    port: int = Field(default=DEFAULT_WEB_PORT, ge=0, le=65535, description="Port to listen on (0: any free port).")
    tokens_file: ConfigPath | None = Field(
        default=None,
        description=(
            "YAML file of API tokens, `name: token` per line (each at least 16 characters); every /v1 request "
            "needs `Authorization: Bearer <token>`. Required when the API is enabled, unless `jwt` is set."
        ),
    )
    jwt: JwtSettings | None = Field(
        default=None, description="Also accept JWTs signed with this key (needs `exp`); None: tokens file only."
    )
    recognize: RecognizeSettings = Field(default_factory=RecognizeSettings, description="The recognise endpoint.")
