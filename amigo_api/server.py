"""The API's uvicorn server, with a bound on how long it takes to stop."""

import os
import threading
from types import FrameType

import uvicorn

# On SIGTERM, open connections get this long before the API stops...
SHUTDOWN_SECONDS = 5
# ...and the lifespan's cleanup this much more: a database call whose server went away first may otherwise keep
# the event loop from closing for as long as the client's timeouts allow.
HARD_EXIT_MARGIN_SECONDS = 3


class BoundedServer(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        timer = threading.Timer(SHUTDOWN_SECONDS + HARD_EXIT_MARGIN_SECONDS, os._exit, (0,))
        timer.daemon = True
        timer.start()
        super().handle_exit(sig, frame)


def run(host: str, port: int, workers: int) -> None:
    options = {"host": host, "port": port, "log_level": "warning", "access_log": False,
               "timeout_graceful_shutdown": SHUTDOWN_SECONDS}
    if workers > 1:  # uvicorn's supervisor runs (and stops) the worker processes
        uvicorn.run("amigo_api.app:create_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]
        return
    BoundedServer(uvicorn.Config("amigo_api.app:create_app", factory=True, **options)).run()  # type: ignore[arg-type]
