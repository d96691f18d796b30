"""The network's SFTP server for banks that poll for work (``assetgw exchange``).

asyncssh in this process, no sshd: password logins only, one per polling bank (chrooted to its own
``inbox`` and ``outbox``) and the network's (every bank's folders), passwords derived from the
partner keys (``schemas.file_exchange.login_password``). Files live on disk under
``DATA_DIR/exchange/home``, so a restart of any side, this server included, loses none. The host
key is made once in ``DATA_DIR/exchange`` (0600) and its public half written beside it for the
clients to pin. The format of the files is the clients' business (``schemas.file_exchange``).
"""

from __future__ import annotations

import asyncio
import hmac
from pathlib import Path

import asyncssh
import structlog

from infra.processes import make_private
from schemas.directory import Directory
from schemas.file_exchange import INBOX, NETWORK_USER, OUTBOX, login_password
from schemas.sftp_client import HOST_KEY_NAME
from schemas.signing import PartnerKeys

log = structlog.get_logger("exchange")


def host_key(folder: Path) -> asyncssh.SSHKey:
    private = folder / HOST_KEY_NAME
    if not private.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        private.touch(mode=0o600)
        private.write_bytes(key.export_private_key())
        (folder / f"{HOST_KEY_NAME}.pub").write_bytes(key.export_public_key())
    return asyncssh.read_private_key(private)


def homes(root: Path, directory: Directory) -> dict[str, Path]:
    """Each login's root folder, the banks' folders made."""
    out = {NETWORK_USER: root}
    for bank in directory.polling():
        for box in (INBOX, OUTBOX):
            (root / bank.id / box).mkdir(parents=True, exist_ok=True)
        out[bank.id] = root / bank.id
    return out


class _Logins(asyncssh.SSHServer):
    def __init__(self, passwords: dict[str, str]) -> None:
        self._passwords = passwords

    def begin_auth(self, username: str) -> bool:
        return True  # every login must authenticate

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        expected = self._passwords.get(username)
        ok = expected is not None and hmac.compare_digest(expected.encode(), password.encode())
        if not ok:
            log.warning("exchange login refused", user=username[:64])
        return ok


async def serve_exchange(data_dir: Path, directory: Directory, keys: PartnerKeys, host: str, port: int) -> asyncssh.SSHAcceptor:
    """The server, listening on ``host:port`` (0: a free port; ``acceptor.sockets`` tells which)."""
    folder = data_dir / "exchange"
    make_private(folder)
    root = folder / "home"
    logins = homes(root, directory)
    passwords = {user: login_password(keys, user) for user in logins}

    def sftp(chan: asyncssh.SSHServerChannel) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=str(logins[chan.get_extra_info("username")]).encode())

    acceptor = await asyncssh.create_server(lambda: _Logins(passwords), host, port, server_host_keys=[host_key(folder)],
                                            sftp_factory=sftp, allow_scp=False)
    log.info("file exchange listening", host=host, port=port, banks=len(logins) - 1, root=str(root))
    return acceptor


async def run_exchange(data_dir: Path, directory: Directory, keys: PartnerKeys, host: str, port: int, stop: asyncio.Event) -> None:
    acceptor = await serve_exchange(data_dir, directory, keys, host, port)
    try:
        await stop.wait()
    finally:
        acceptor.close()
        await acceptor.wait_closed()
