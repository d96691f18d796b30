"""The signed partner link: how every connector-to-institution request is authenticated.

Each request carries four headers; the signature is HMAC-SHA256 under the institution's own key
over a canonical text of the request::

    X-AssetGW-Key-Id:    <institution_id>
    X-AssetGW-Timestamp: <unix seconds, integer>
    X-AssetGW-Nonce:     <random hex, 16-64 characters>
    X-AssetGW-Signature: <lowercase hex HMAC-SHA256(key, canonical)>

    canonical = "\\n".join([METHOD, path?query exactly as sent, sha256_hex(body), timestamp, nonce])

The body hash binds the payload; the timestamp bounds how long a captured request stays usable
(``max_skew_s``); the nonce makes it usable once. Keys are one per institution, so a leaked key
exposes one partner only: derived from a master secret (``institution_key``) or listed in a JSON
file. Secrets come from the environment, never from the code.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

HEADER_KEY_ID = "X-AssetGW-Key-Id"
HEADER_TIMESTAMP = "X-AssetGW-Timestamp"
HEADER_NONCE = "X-AssetGW-Nonce"
HEADER_SIGNATURE = "X-AssetGW-Signature"
SIGNED_HEADERS = (HEADER_KEY_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)

ENV_KEYS_FILE = "ASSETGW_PARTNER_KEYS_FILE"
ENV_MASTER_KEY = "ASSETGW_PARTNER_MASTER_KEY"

MAX_SKEW_S = 300
MIN_KEY_BYTES = 16  # 128 bits: below that a key is guessable, whatever its source
_KEY_LABEL = b"assetgw-partner-key:"
_NONCE = re.compile(r"[0-9a-fA-F]{16,64}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")

# The reasons a verification fails, as simulators report them (401 body, /admin/security).
UNSIGNED = "unsigned"
UNKNOWN_KEY_ID = "unknown key id"
KEY_ID_MISMATCH = "key id does not match the institution"
BAD_SIGNATURE = "bad signature"
STALE = "stale"
REPLAYED = "replayed"
REASONS = (UNSIGNED, UNKNOWN_KEY_ID, KEY_ID_MISMATCH, BAD_SIGNATURE, STALE, REPLAYED)


class SignatureError(Exception):
    """A request that must not be served; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PartnerKeysError(RuntimeError):
    """The partner keys are configured wrongly (unreadable file, bad hex, key too short)."""


class MissingPartnerKeys(PartnerKeysError):
    """No partner keys are configured at all."""


@functools.lru_cache(maxsize=1024)  # bounded: the simulators derive keys for ids named in request paths
def institution_key(master: bytes, institution_id: str) -> bytes:
    """The institution's own key, derived from the master secret (HMAC as a KDF): one secret to
    distribute on the gateway side, yet no institution can compute another's key. Derived once per
    institution and remembered: every request on the partner link needs it."""
    return hmac.new(master, _KEY_LABEL + institution_id.encode("utf-8"), hashlib.sha256).digest()


@dataclass(frozen=True)
class PartnerKeys:
    """Keys by institution: listed explicitly, else derived from ``master``. ``repr`` hides both."""

    master: bytes | None = field(default=None, repr=False)
    listed: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def key_for(self, institution_id: str) -> bytes:
        """The institution's key; ``KeyError`` when it has none."""
        key = self.listed.get(institution_id)
        if key is not None:
            return key
        if self.master is not None and institution_id:
            return institution_key(self.master, institution_id)
        raise KeyError(institution_id)


def _hex_key(text: str, what: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise PartnerKeysError(f"{what} is not hex") from None
    if len(key) < MIN_KEY_BYTES:
        raise PartnerKeysError(f"{what} is too short: at least {MIN_KEY_BYTES} bytes ({2 * MIN_KEY_BYTES} hex digits)")
    return key


def load_partner_keys(env: Mapping[str, str] | None = None) -> PartnerKeys:
    """Keys from ``ASSETGW_PARTNER_KEYS_FILE`` (JSON ``{institution_id: key_hex}``), or else
    derived from ``ASSETGW_PARTNER_MASTER_KEY`` (hex). ``MissingPartnerKeys`` when neither is set;
    ``PartnerKeysError`` when the one set is unusable."""
    env = os.environ if env is None else env
    path = env.get(ENV_KEYS_FILE)
    if path:
        try:
            data = orjson.loads(Path(path).read_bytes())
        except OSError as exc:
            raise PartnerKeysError(f"{ENV_KEYS_FILE}={path}: cannot read it ({exc.strerror})") from None
        except orjson.JSONDecodeError:
            raise PartnerKeysError(f"{ENV_KEYS_FILE}={path}: not JSON") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise PartnerKeysError(f"{ENV_KEYS_FILE}={path}: expected a JSON object {{institution_id: key_hex}}")
        return PartnerKeys(listed={inst: _hex_key(value, f"{ENV_KEYS_FILE}: key of {inst}") for inst, value in data.items()})
    master = env.get(ENV_MASTER_KEY)
    if master:
        return PartnerKeys(master=_hex_key(master, ENV_MASTER_KEY))
    raise MissingPartnerKeys(
        f"no partner keys: set {ENV_KEYS_FILE} (a JSON file {{institution_id: key_hex}}) "
        f"or {ENV_MASTER_KEY} (hex, {2 * MIN_KEY_BYTES}+ digits)"
    )


def canonical(method: str, path: str, body: bytes, timestamp: str | int, nonce: str) -> str:
    """The text that is signed: method, path with query, body hash, timestamp, nonce."""
    return "\n".join([method.upper(), path, hashlib.sha256(body).hexdigest(), str(timestamp), nonce])


def _signature(key: bytes, method: str, path: str, body: bytes, timestamp: str | int, nonce: str) -> str:
    return hmac.new(key, canonical(method, path, body, timestamp, nonce).encode("utf-8"), hashlib.sha256).hexdigest()


def sign_headers(
    keys: PartnerKeys, institution_id: str, method: str, path: str, body: bytes,
    now: float | None = None, nonce: str | None = None,
) -> dict[str, str]:
    """The four headers that authenticate this request to ``institution_id``. ``path`` must be
    exactly what goes on the request line (path and query string)."""
    nonce = secrets.token_hex(16) if nonce is None else nonce
    if not _NONCE.fullmatch(nonce):
        raise ValueError("nonce must be 16-64 hex characters")
    timestamp = str(int(time.time() if now is None else now))
    return {
        HEADER_KEY_ID: institution_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: _signature(keys.key_for(institution_id), method, path, body, timestamp, nonce),
    }


class NonceCache:
    """Nonces seen per key id, kept for twice the allowed skew: a request is accepted while its
    timestamp is within ``max_skew_s`` of now, so after ``2 * max_skew_s`` it is stale anyway
    and its nonce can be forgotten. Memory is bounded by the request rate over that window."""

    def __init__(self, max_skew_s: float = MAX_SKEW_S) -> None:
        self.ttl_s = 2 * max_skew_s
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()  # oldest first

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, key_id: str, nonce: str, now: float) -> bool:
        """Remember the nonce; ``False`` when it was already seen within the window."""
        while self._seen:
            _, seen_at = next(iter(self._seen.items()))
            if seen_at >= now - self.ttl_s:
                break
            self._seen.popitem(last=False)
        if (key_id, nonce) in self._seen:
            return False
        self._seen[(key_id, nonce)] = now
        return True


def verify(
    keys: PartnerKeys, method: str, path: str, body: bytes, headers: Mapping[str, str], *,
    now: float, nonces: NonceCache, max_skew_s: float = MAX_SKEW_S, institution_id: str | None = None,
) -> None:
    """Raise ``SignatureError`` unless the request is signed by the key it names, fresh, and new.

    ``institution_id`` (the institution the request addresses) must then equal the key id, so a
    key cannot speak for another institution. The signature is checked before freshness and
    replay, so "stale" and "replayed" are only ever said of authentic requests, and a forged
    request cannot use up a nonce. Malformed header values count as a bad signature.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    values = [lowered.get(h.lower()) for h in SIGNED_HEADERS]
    if any(not v for v in values):
        raise SignatureError(UNSIGNED)
    key_id, timestamp, nonce, signature = (v for v in values if v)
    if institution_id is not None and key_id != institution_id:
        raise SignatureError(KEY_ID_MISMATCH)
    try:
        key = keys.key_for(key_id)
    except KeyError:
        raise SignatureError(UNKNOWN_KEY_ID) from None
    if not (timestamp.isascii() and timestamp.isdigit() and _NONCE.fullmatch(nonce) and _SIGNATURE.fullmatch(signature)):
        raise SignatureError(BAD_SIGNATURE)
    expected = _signature(key, method, path, body, timestamp, nonce)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        raise SignatureError(BAD_SIGNATURE)
    if abs(now - int(timestamp)) > max_skew_s:
        raise SignatureError(STALE)
    if not nonces.add(key_id, nonce, now):
        raise SignatureError(REPLAYED)
