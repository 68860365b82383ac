"""Webhook signatures: HMAC-SHA256 over ``"{timestamp}.{body}"``, sent with the timestamp.

Header ``Complaints-Signature: t=<unix seconds>,v1=<hex digest>``. A receiver recomputes the digest with
its secret over the timestamp, a dot and the raw body, compares in constant time, and rejects a timestamp
too far from its own clock (a replayed request). docs/integrators.md ("Verifying a signature") has the
receiver's few lines.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Complaints-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, now: float | None = None, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is within ``tolerance`` of now."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected.encode(), parts.get("v1", "").encode())  # str compare: ASCII only
