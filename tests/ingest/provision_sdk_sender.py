"""Send messages with the real sentry-sdk, in its own process:
``provision_sdk_sender.py DSN COUNT RELEASE [USER_IP]`` (USER_IP sets the event's user IP,
e.g. 127.0.0.1 for the localhost filter)."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    dsn, count, release = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    user_ip = sys.argv[4] if len(sys.argv) > 4 else None

    import sentry_sdk

    # send_default_pii: without it the SDK would not send the user's IP address.
    sentry_sdk.init(
        dsn=dsn, default_integrations=False, release=release, send_default_pii=bool(user_ip)
    )
    if user_ip:
        sentry_sdk.set_user({"ip_address": user_ip})
    for number in range(count):
        sentry_sdk.capture_message(f"provisioned {number}")
    sentry_sdk.flush(timeout=20)
