import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sandbox.server import serve_app


async def test_serve_app_answers_on_an_ephemeral_port() -> None:
    async def hello(_: object) -> PlainTextResponse:
        return PlainTextResponse("hi")

    app = Starlette(routes=[Route("/", hello)])
    async with serve_app(app) as base_url, httpx.AsyncClient() as client:
        response = await client.get(base_url + "/")
    assert response.text == "hi"
    assert base_url.startswith("http://127.0.0.1:")
