"""A login to the network's SFTP exchange (``schemas.file_exchange``), for both ends: the network's
connector and the polling banks. The network hands it out with the file format, as the real
network hands banks its exchange kit.

One SSH connection per login, opened on first use and again after it drops (any SSH or socket
error closes it and is raised; the caller's next poll reconnects). Uploads go to ``NAME.part``
and are renamed when whole. The server's host key is pinned when its public key file is at hand
(``ASSETGW_EXCHANGE_HOST_KEY``, or the data directory's ``exchange/ssh_host_key.pub``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import asyncssh

from schemas import ports
from schemas.file_exchange import PARTIAL

ENV_ADDRESS = "ASSETGW_EXCHANGE"  # host:port of the SFTP server
ENV_HOST_KEY = "ASSETGW_EXCHANGE_HOST_KEY"
HOST_KEY_NAME = "ssh_host_key"
ExchangeError = (asyncssh.Error, OSError, asyncio.TimeoutError)


def exchange_address() -> tuple[str, int]:
    host, _, port = (os.environ.get(ENV_ADDRESS) or f"127.0.0.1:{ports.EXCHANGE}").rpartition(":")
    return host or "127.0.0.1", int(port)


def host_key_file() -> Path:
    given = os.environ.get(ENV_HOST_KEY)
    return Path(given) if given else Path(os.environ.get("ASSETGW_DATA_DIR", ".assetgw")) / "exchange" / f"{HOST_KEY_NAME}.pub"


def _known_hosts() -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]] | None:
    """The server's key to pin: the one named must exist (until it does, no connection); without
    one named, the data directory's if the server wrote it there, else none (a loopback stack)."""
    pinned = host_key_file()
    if not pinned.exists() and not os.environ.get(ENV_HOST_KEY):
        return None
    return [asyncssh.read_public_key(pinned)], [], []  # OSError (no such file yet): the next poll tries again


class ExchangeLogin:
    def __init__(self, user: str, password: str, address: tuple[str, int] | None = None, connect_timeout_s: float = 10.0) -> None:
        self.user = user
        self._password = password
        self.address = address or exchange_address()
        self.connect_timeout_s = connect_timeout_s
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._lock = asyncio.Lock()

    async def _client(self) -> asyncssh.SFTPClient:
        async with self._lock:
            if self._sftp is None:
                known = _known_hosts()
                host, port = self.address
                self._conn = await asyncssh.connect(
                    host, port, username=self.user, password=self._password, known_hosts=known, client_keys=None,
                    agent_path=None, preferred_auth="password", connect_timeout=self.connect_timeout_s)
                self._sftp = await self._conn.start_sftp_client()
            return self._sftp

    async def _do(self, op):  # type: ignore[no-untyped-def]
        try:
            return await op(await self._client())
        except ExchangeError:
            await self.aclose()
            raise

    async def names(self, folder: str) -> list[str]:
        """The whole files in ``folder``, oldest name first (names carry their time)."""
        return sorted(n for n in await self._do(lambda s: s.listdir(folder)) if n not in (".", "..") and not n.endswith(PARTIAL))

    async def read(self, path: str) -> bytes:
        async def get(sftp: asyncssh.SFTPClient) -> bytes:
            async with sftp.open(path, "rb") as f:
                return await f.read()
        return await self._do(get)

    async def write(self, path: str, data: bytes) -> None:
        async def put(sftp: asyncssh.SFTPClient) -> None:
            async with sftp.open(path + PARTIAL, "wb") as f:
                await f.write(data)
            await sftp.rename(path + PARTIAL, path)
        await self._do(put)

    async def remove(self, path: str) -> None:
        """Gone afterwards, whether or not it was there (another reader may have taken it)."""
        async def rm(sftp: asyncssh.SFTPClient) -> None:
            with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                await sftp.remove(path)
        await self._do(rm)

    async def aclose(self) -> None:
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            try:
                await asyncio.wait_for(conn.wait_closed(), 2)
            except (TimeoutError, *ExchangeError):
                pass
