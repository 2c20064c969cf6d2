"""Access: open when PORTAL_API_KEYS is unset (meant for loopback); otherwise every route but the health checks wants
`Authorization: Bearer <key>` with one of the comma-separated keys, compared in constant time."""

from __future__ import annotations

import hmac
import os

from fastapi import HTTPException, Request

KEYS_VARIABLE = "PORTAL_API_KEYS"


def keys_from_env(env: dict[str, str] | None = None) -> tuple[str, ...]:
    text = (os.environ if env is None else env).get(KEYS_VARIABLE, "")
    return tuple(k.strip() for k in text.split(",") if k.strip())


async def check(request: Request) -> None:
    """FastAPI dependency: 401 unless the request carries one of the app's keys (or the app has none)."""
    keys: tuple[str, ...] = request.app.state.api_keys
    if not keys:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given_bytes = given.strip().encode()
    # every key is compared, whatever matches, so the time taken says nothing about which key was close
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given_bytes, key.encode())
    if scheme.lower() != "bearer" or not matched:
        raise HTTPException(
            401,
            f"Send a valid key as `Authorization: Bearer <key>` (this server sets {KEYS_VARIABLE}).",
            headers={"WWW-Authenticate": "Bearer"},
        )
