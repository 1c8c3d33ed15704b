"""A TCP proxy a test can cut and restore, to partition a process from its database.

While cut, bytes in both directions are held (as a partition delays and drops packets) and new
connections hang in their handshake; restoring delivers what was held, as TCP would once the
link heals. A side that gives up and closes its socket closes the other side too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._open = asyncio.Event()
        self._open.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def cut(self) -> None:
        self._open.clear()

    def restore(self) -> None:
        self._open.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[TcpProxy]:
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for writer in list(self._writers):
                writer.close()
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer),
            return_exceptions=True,
        )  # fmt: skip
        self._writers.difference_update((writer, upstream_writer))

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self._open.wait()
                sink.write(data)
                await sink.drain()
        finally:
            sink.close()
