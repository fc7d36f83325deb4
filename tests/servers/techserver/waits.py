"""Waiting for the technological server's TCP front to let its connections go."""

import time


def wait_idle(srv, timeout: float = 3.0) -> None:
    """The server has finished with every connection within ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while srv.open_connections and time.monotonic() < end:
        time.sleep(0.01)
    assert srv.open_connections == 0, "the server still holds a connection"
