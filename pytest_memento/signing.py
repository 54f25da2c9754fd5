"""HMAC signatures for shared stores.

With a secret (``MEMENTO_SECRET``, or the environment variable an ini key
names), every stored result and checkpoint is signed on write, and nothing
whose signature does not verify is ever unpickled. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["Signer", "signer_from"]

DEFAULT_SECRET_ENV = "MEMENTO_SECRET"


class Signer:
    """Signs and checks byte strings with HMAC-SHA256."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("an empty secret signs nothing")
        self._secret = secret

    def sign(self, *parts: str) -> str:
        message = "\0".join(parts).encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify(self, signature: object, *parts: str) -> bool:
        return isinstance(signature, str) and hmac.compare_digest(signature, self.sign(*parts))


def signer_from(env: Mapping[str, str], variable: str = "") -> Signer | None:
    """The signer for the secret in ``variable`` (default ``MEMENTO_SECRET``),
    or None when it is unset or empty."""
    secret = env.get(variable.strip() or DEFAULT_SECRET_ENV, "")
    return Signer(secret.encode()) if secret else None
