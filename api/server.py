"""Runs the API under uvicorn, optionally also on a port shared by all API workers.

`python -m api.server --port 8000` is what scripts/stack.py starts. With
`--shared-port`, every worker also listens on that one port (SO_REUSEPORT):
the kernel spreads Rasa's action calls over the workers that are alive, so a
worker that dies does not take the actions down with it.
"""

from __future__ import annotations

import argparse
import gc
import socket

import uvicorn
from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol
from websockets.frames import OP_TEXT
from websockets.legacy.protocol import State

from api.config import get_settings
from api.routes.frames import TOO_LARGE_FRAME


class FrameLimitedWebSocketProtocol(WebSocketProtocol):
    """uvicorn's websocket, telling the client why a frame over its size limit closes it.

    The transport refuses a frame over `ws_max_size` after reading only its
    header (memory stays bounded) and closes with 1009 before the app sees it.
    The client gets the documented `frame_too_large` error frame first, as
    for a frame the app itself finds too large (docs/protocol.md).
    """

    def fail_connection(self, code: int = 1006, reason: str = "") -> None:
        if code == 1009 and self.state is State.OPEN:
            try:
                self.write_frame_sync(True, OP_TEXT, TOO_LARGE_FRAME.encode())
            except Exception:  # noqa: BLE001 - the connection is being failed anyway
                pass
        super().fail_connection(code, reason)


def default_ws_max_size() -> int:
    """The transport's frame limit: above the sockets' own limits, which say why they refuse."""
    return 4 * get_settings().max_frame_bytes


class ApiServer(uvicorn.Server):
    """uvicorn's server, with the garbage collector kept off what start-up built."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # The app, FastAPI, SQLAlchemy, rasa_sdk and the flows live as long as
        # the process; every full collection walked all of them, stopping every
        # socket for 100-160 ms several times a minute under load. Frozen, they
        # are left out of collections (reference counting still frees them).
        gc.collect()
        gc.freeze()


def shared_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--shared-port",
        type=int,
        default=0,
        help="a second port, on 127.0.0.1, shared with the other workers",
    )
    parser.add_argument("--ws-max-size", type=int, default=0, help="default: 4 * MAX_FRAME_BYTES")
    args = parser.parse_args()
    config = uvicorn.Config(
        "api.main:app_factory",
        factory=True,
        host=args.host,
        port=args.port,
        ws=FrameLimitedWebSocketProtocol,
        ws_max_size=args.ws_max_size or default_ws_max_size(),
        # Chat frames are a few hundred bytes: compressing them saves little, and
        # every compressed socket holds its own zlib state (about 300 KB), which
        # would dominate the memory of thousands of mostly idle customers.
        ws_per_message_deflate=False,
        server_header=False,
        backlog=2048,
    )
    sockets = [config.bind_socket()]
    if args.shared_port:
        sockets.append(shared_socket("127.0.0.1", args.shared_port))
    ApiServer(config).run(sockets=sockets)


if __name__ == "__main__":
    main()
