"""The floor for benchmarks/serving.py: a bare FastAPI app that answers a constant.

It reads the request body (so the same bytes cross the socket as for a real model
server) but neither parses nor predicts, and it runs on uvicorn the way
``shipyard serve`` does: one worker, uvloop and httptools when they are installed, no
access log.  No prediction server built on FastAPI and uvicorn can be faster than this.

    python benchmarks/serving/floor.py --port 8001
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, Request, Response

ANSWER = b'{"predictions":[0.0],"model":"floor","version":1}'

app = FastAPI()


@app.get("/health")
async def health() -> Response:
    return Response(b"{}", media_type="application/json")


@app.post("/predict")
async def predict(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        loop="auto",
        http="auto",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
