"""Serving apps on real sockets, for the tests where the socket is the point."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sandbox.server import bind_socket, serve_app, serve_apps, socket_url


def saying(text: str) -> Starlette:
    async def hello(_: Request) -> PlainTextResponse:
        return PlainTextResponse(text)

    return Starlette(routes=[Route("/", hello)])


async def test_serve_app_answers_on_an_ephemeral_port() -> None:
    async with serve_app(saying("hi")) as base_url, httpx.AsyncClient() as client:
        response = await client.get(base_url + "/")
    assert response.text == "hi"
    assert base_url.startswith("http://127.0.0.1:")


async def test_serve_apps_serves_each_on_its_socket_and_closes_them_all() -> None:
    socks = (bind_socket(), bind_socket())
    async with (
        serve_apps((saying("one"), socks[0]), (saying("two"), socks[1])),
        httpx.AsyncClient() as client,
    ):
        answers = [(await client.get(socket_url(sock) + "/")).text for sock in socks]
    assert answers == ["one", "two"]
    assert [sock.fileno() for sock in socks] == [-1, -1]  # closed
