"""Device keys for tests: one fixed, well-formed key per serial (the real device makes a random one)."""


def key_for(serial: str) -> str:
    return f"device-key-{serial}-".ljust(48, "x")
