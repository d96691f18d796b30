"""The file exchange with banks that poll for work (总对总 文件接口): names, zip layout, signatures.

The network's SFTP server (``infra.exchange``) gives each polling bank a home with two folders:
``/{bank}/inbox`` (requests for the bank) and ``/{bank}/outbox`` (its answers and failure
receipts). The network writes, the bank polls; each side removes what it has read. A file is
uploaded as ``NAME.part`` and renamed when whole, so a reader never sees half a file.

Every file is a zip of one JSON document and its signature::

    CXQQ_bank-17_20251201T030405Z_<batch>.zip   requests.json   [{"request_id", "method", "path", "body"}]
    CXFK_bank-17_20251201T030410Z_<batch>.zip   answers.json    [{"request_id", "status", "body"}]
    CXHZ_bank-17_20251201T030410Z_<batch>.zip   receipt.json    {"file", "reason"}
    each with                                   signature.json  {"key_id", "timestamp", "nonce", "signature"}

The code's first two letters say what the batch holds (CX queries, KZ control orders, ZT control
status, SJ the event feed), the last two which way it goes (QQ request, FK feedback, HZ failure
receipt); a feedback or receipt carries the request file's batch id. A request is the partner
link's HTTP request as data (method, path, JSON body), and its answer the HTTP status and body
the bank's API would give, so a bank answers the same whichever way it talks.

The signature is the partner link's (``schemas.signing``) over ``PUT /{bank}/{inbox|outbox}/{name}``
and the JSON document's bytes, under the bank's own key: the network signs requests, the bank its
answers. A file may wait in an inbox while a bank is not polling, so its timestamp may be old
(``MAX_FILE_AGE_S``); a file seen again is not refused as a replay: every request is idempotent by
its id (the bank dedupes control orders; a query is answered again alike).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.signing import (
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    NonceCache,
    PartnerKeys,
    SignatureError,
    sign_headers,
    verify,
)

INBOX, OUTBOX = "inbox", "outbox"
PARTIAL = ".part"
MAX_FILE_AGE_S = 7 * 24 * 3600  # a week of a bank not polling, then a request is stale
MAX_FILE_BYTES = 64 * 1024 * 1024
NETWORK_USER = "network"  # the network's own login: every bank's folders
# What a request asks, by its path's tail: the batch code's first two letters.
SUBJECTS = (("/api/v1/deposit-inquiry-batches", "CX"), ("/controls/status", "ZT"), ("/controls", "KZ"), ("/events", "SJ"))
REQUEST, FEEDBACK, RECEIPT = "QQ", "FK", "HZ"
DOCUMENT = {REQUEST: "requests.json", FEEDBACK: "answers.json", RECEIPT: "receipt.json"}
SIGNATURE = "signature.json"
_NAME = re.compile(r"(?P<subject>CX|KZ|ZT|SJ)(?P<way>QQ|FK|HZ)_(?P<bank>[a-z]+-\d+)_(?P<at>\d{8}T\d{6}Z)_(?P<batch>[0-9a-f]{8,64})\.zip")
_SIGNED = {"key_id": HEADER_KEY_ID, "timestamp": HEADER_TIMESTAMP, "nonce": HEADER_NONCE, "signature": HEADER_SIGNATURE}


class BadFile(ValueError):
    """A file that cannot be read or whose signature does not hold; the message says why."""


def subject_of(path: str) -> str:
    """The batch code's subject for a request path; ``ValueError`` for a path no batch carries."""
    tail = path.split("?", 1)[0]
    for suffix, code in SUBJECTS:
        if tail.endswith(suffix):
            return code
    raise ValueError(f"no file batch carries {path!r}")


@dataclass(frozen=True, slots=True)
class FileName:
    subject: str
    way: str
    bank: str
    at: str
    batch: str

    @classmethod
    def parse(cls, name: str) -> FileName | None:
        """The parts of an exchange file's name; ``None`` for anything else (a ``.part``, a stray file)."""
        match = _NAME.fullmatch(name)
        return cls(**match.groupdict()) if match else None

    @classmethod
    def new(cls, subject: str, way: str, bank: str, batch: str, now: datetime | None = None) -> FileName:
        return cls(subject, way, bank, (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ"), batch)

    def reply(self, way: str, now: datetime | None = None) -> FileName:
        """The feedback or receipt for this request file: same subject, bank and batch."""
        return FileName.new(self.subject, way, self.bank, self.batch, now)

    def __str__(self) -> str:
        return f"{self.subject}{self.way}_{self.bank}_{self.at}_{self.batch}.zip"


def _signed_path(name: FileName) -> str:
    return f"/{name.bank}/{INBOX if name.way == REQUEST else OUTBOX}/{name}"


def pack(keys: PartnerKeys, name: FileName, document: Any, now: float | None = None) -> bytes:
    """The zip for ``name``: its JSON document and the bank key's signature of it."""
    data = orjson.dumps(document)
    headers = sign_headers(keys, name.bank, "PUT", _signed_path(name), data, now=now)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(DOCUMENT[name.way], data)
        archive.writestr(SIGNATURE, orjson.dumps({field: headers[header] for field, header in _SIGNED.items()}))
    return buffer.getvalue()


def unpack(keys: PartnerKeys, name: FileName, raw: bytes, now: float) -> Any:
    """The file's JSON document once its signature holds; ``BadFile`` saying why otherwise."""
    if len(raw) > MAX_FILE_BYTES:
        raise BadFile(f"larger than {MAX_FILE_BYTES} bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            data = archive.read(DOCUMENT[name.way])
            signature = orjson.loads(archive.read(SIGNATURE))
    except (zipfile.BadZipFile, KeyError, OSError, orjson.JSONDecodeError, EOFError) as exc:
        raise BadFile(f"not a readable batch zip: {exc}") from None
    if not isinstance(signature, dict):
        raise BadFile(f"{SIGNATURE} is not an object")
    headers = {header: str(signature.get(field) or "") for field, header in _SIGNED.items()}
    try:
        verify(keys, "PUT", _signed_path(name), data, headers, now=now, nonces=NonceCache(MAX_FILE_AGE_S),
               max_skew_s=MAX_FILE_AGE_S, institution_id=name.bank)
    except SignatureError as exc:
        raise BadFile(f"signature refused: {exc.reason}") from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadFile(f"{DOCUMENT[name.way]} is not JSON: {exc}") from None


def request_id(method: str, path: str, body: Any) -> str:
    """A request's id from its content: the same request sent again (a retry, a connector
    restarted mid-exchange) has the same id, so its first answer serves it."""
    canonical = orjson.dumps([method.upper(), path, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:32]


def login_password(keys: PartnerKeys, user: str) -> str:
    """A login's SFTP password, derived from its partner key (a bank's own; the network's is the
    key of ``network``), so no further secret needs handing out and none speaks for another."""
    return hmac.new(keys.key_for(user), b"assetgw-sftp-login", hashlib.sha256).hexdigest()
