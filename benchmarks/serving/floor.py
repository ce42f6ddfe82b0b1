"""The floors for benchmarks/serving.py: servers that answer a constant, on shipyard's uvicorn.

Each reads the whole request body (so the same bytes cross the socket as for a real
model server) but neither parses nor predicts, and runs on uvicorn the way
``shipyard serve`` does: one worker, the default loop and HTTP parser (uvloop and
httptools when they are installed, as they are with shipyard), no access log.

- ``--framework asgi`` (the default, the row "floor"): a bare ASGI callable, no framework
  at all.  No Python server on this uvicorn can answer faster;
- ``--framework fastapi`` (the row "FastAPI floor"): the same answers from a FastAPI app,
  the best any server built on FastAPI can do.

Both answer ``GET /health`` and ``POST /predict``.

    python benchmarks/serving/floor.py --port 8001
    python benchmarks/serving/floor.py --port 8001 --framework fastapi
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

ANSWER = b'{"predictions":[0.0],"model":"floor","version":1}'
HEALTH = b"{}"

Message = MutableMapping[str, Any]


async def bare_app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """The ASGI floor: the body is received to its last chunk, then the constant sent."""
    if scope["type"] != "http":  # uvicorn goes on without lifespan events when we return
        return
    route = (scope["method"], scope["path"])
    if route == ("POST", "/predict"):
        message = await receive()
        while message.get("more_body"):
            message = await receive()
        if message["type"] == "http.disconnect":
            return
        status, content = 200, ANSWER
    elif route == ("GET", "/health"):
        status, content = 200, HEALTH
    else:
        status, content = 404, b'{"detail":"Not Found"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


fastapi_app = FastAPI()


@fastapi_app.get("/health")
async def health() -> Response:
    return Response(HEALTH, media_type="application/json")


@fastapi_app.post("/predict")
async def predict(request: Request) -> Response:
    """The FastAPI floor: the same answers through FastAPI's routing and request."""
    await request.body()
    return Response(ANSWER, media_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--framework", choices=["asgi", "fastapi"], default="asgi")
    args = parser.parse_args()
    # The options of shipyard.serving.app.serve with one worker, nothing more.
    uvicorn.run(
        bare_app if args.framework == "asgi" else fastapi_app,
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
