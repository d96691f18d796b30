"""``assetgw sign``: sign one partner-link request by hand, as a partner's test team does while
building its side (docs/partners.md#signing): the four headers, the exact text signed, and a curl
line to send it. The key is the institution's own, derived from the deployment's master key (or
listed in the keys file), as the connectors sign."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from schemas.signing import PartnerKeysError, canonical, load_partner_keys, sign_headers


def _keys_env() -> dict[str, str]:
    """The environment, or else the master key ``assetgw up`` made in the data directory."""
    env = dict(os.environ)
    if not env.get("ASSETGW_PARTNER_MASTER_KEY") and not env.get("ASSETGW_PARTNER_KEYS_FILE"):
        made = Path(env.get("ASSETGW_DATA_DIR", ".assetgw")) / "partner.key"
        if made.is_file():
            env["ASSETGW_PARTNER_MASTER_KEY"] = made.read_text().strip()
    return env


def _body(args: argparse.Namespace) -> bytes:
    if args.body_file == "-":
        return sys.stdin.buffer.read()
    if args.body_file:
        return Path(args.body_file).read_bytes()
    return (args.body or "").encode()


def run_sign(args: argparse.Namespace) -> None:
    target = urlsplit(args.url)
    path = target.path + (f"?{target.query}" if target.query else "")
    if not target.scheme or not path.startswith("/"):
        sys.exit(f"assetgw sign: {args.url!r} is not a URL (e.g. http://127.0.0.1:18101/bank-03/api/v1/deposit-inquiries)")
    institution = args.institution or path.split("/")[1]
    body = _body(args)
    try:
        keys = load_partner_keys(_keys_env())
        headers = sign_headers(keys, institution, args.method, path, body, now=args.timestamp, nonce=args.nonce)
    except (PartnerKeysError, ValueError) as exc:
        sys.exit(f"assetgw sign: {exc}")
    except KeyError:
        sys.exit(f"assetgw sign: no key for {institution!r} in the keys file")
    signed = canonical(args.method, path, body, headers["X-AssetGW-Timestamp"], headers["X-AssetGW-Nonce"])
    if args.json:
        print(orjson.dumps({"headers": headers, "canonical": signed}, option=orjson.OPT_INDENT_2).decode())
        return
    for name, value in headers.items():
        print(f"{name}: {value}")
    print("\nsigned text (lines joined by \\n):", file=sys.stderr)
    for line in signed.split("\n"):
        print(f"  {line}", file=sys.stderr)
    data = f" --data-binary @{args.body_file}" if args.body_file and args.body_file != "-" else \
        (f" --data-binary '{body.decode()}'" if body else "")
    content = " -H 'Content-Type: application/json'" if body else ""
    print("\ncurl -sS -X " + args.method.upper() + content + "".join(f" -H '{k}: {v}'" for k, v in headers.items())
          + data + f" '{args.url}'", file=sys.stderr)


def add_sign_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sign", help="sign one partner-link request by hand (headers, the text signed, a curl line)",
                       description="Print the four X-AssetGW-* headers that authenticate this request to the institution "
                                   "(stdout), and the text signed and a curl line (stderr). A nonce is good once; a "
                                   "timestamp for 300 s. Keys: ASSETGW_PARTNER_MASTER_KEY, ASSETGW_PARTNER_KEYS_FILE, or "
                                   "the master key assetgw up made in ASSETGW_DATA_DIR.")
    p.add_argument("method", metavar="METHOD", help="GET or POST")
    p.add_argument("url", metavar="URL", help="the whole URL, e.g. http://127.0.0.1:18101/bank-03/api/v1/deposit-inquiries")
    body = p.add_mutually_exclusive_group()
    body.add_argument("--body", help="the body, exactly as it will be sent (JSON text)")
    body.add_argument("--body-file", metavar="FILE", help="the body from a file (- for stdin), byte for byte")
    p.add_argument("--institution", help="whose key (default: the first path segment, as the connectors sign)")
    p.add_argument("--timestamp", type=int, help="unix seconds (default now; fixed, to reproduce a test vector)")
    p.add_argument("--nonce", help="16-64 hex characters (default random)")
    p.add_argument("--json", action="store_true", help="headers and the signed text as JSON")
    p.set_defaults(func=run_sign)
