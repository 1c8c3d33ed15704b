"""Run an ASGI app (an emulator, or our own app) on 127.0.0.1 for tests and the demo."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening-ready TCP socket; port 0 picks a free one (read it before building an app
    that must know its own URL)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, small responses wait ~40 ms (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now, for a server in another process (which binds it itself)."""
    sock = bind_socket(host)
    try:
        return int(sock.getsockname()[1])
    finally:
        sock.close()


def socket_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serve_app(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
) -> AsyncIterator[str]:
    """Serve `app` with uvicorn in this event loop; yields its base URL (no trailing slash).

    Port 0 picks a free ephemeral port; `sock` serves on a socket from `bind_socket`. The
    server is stopped (and the socket closed) when the block exits.
    """
    sock = sock or bind_socket(host, port)
    async with serve_apps((app, sock)):
        yield socket_url(sock)


@contextlib.asynccontextmanager
async def serve_apps(*served: tuple[ASGIApp, socket.socket]) -> AsyncIterator[None]:
    """Serve each app on its socket (from `bind_socket`) in this event loop; stop them all at
    once when the block exits, and close the sockets.

    Stopping a uvicorn server takes about 0.2 s whatever it served, so servers that live and
    die together are stopped together rather than one after another.
    """
    running: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
    try:
        for app, sock in served:
            config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
            server = uvicorn.Server(config)
            running.append((server, asyncio.create_task(server.serve(sockets=[sock]))))
        for server, task in running:
            while not server.started:
                if task.done():
                    task.result()  # re-raises the start-up failure
                await asyncio.sleep(0.01)
        yield
    finally:
        for server, _ in running:
            server.should_exit = True
        ended = await asyncio.gather(*(task for _, task in running), return_exceptions=True)
        for _, sock in served:
            sock.close()
        failures = [e for e in ended if isinstance(e, Exception)]
        if failures:
            raise failures[0]
