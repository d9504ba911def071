"""Send events with the real sentry-sdk, in its own process: ``sdk_sender.py DSN COUNT MODE``.

MODE ``br`` leaves brotli importable (the SDK then compresses with br), ``gzip`` makes it
unimportable first (the SDK falls back to gzip). Prints the compression the transport used.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    dsn, count, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "gzip":
        sys.modules["brotli"] = None  # type: ignore[assignment]  # makes `import brotli` fail

    import sentry_sdk

    sentry_sdk.init(dsn=dsn, default_integrations=False, release="sdk-test@1")
    for number in range(count):
        if number % 2:
            sentry_sdk.capture_message(f"message {number}")
        else:
            try:
                raise ValueError(f"boom {number}")
            except ValueError:
                sentry_sdk.capture_exception()
    client = sentry_sdk.get_client()
    print(client.transport._compression_algo)  # type: ignore[union-attr]
    sentry_sdk.flush(timeout=20)
