"""Bench-only settings for bench/admin_screenshot.py: the app's settings plus a middleware that
makes every request the ``screenshot`` superuser's, so headless Chromium sees the admin
without a login form. Never used by the app itself."""

from typing import Any

from statsapi.settings import *  # noqa: F403
from statsapi.settings import MIDDLEWARE

MIDDLEWARE = [*MIDDLEWARE, "screenshot_settings.ScreenshotLogin"]


class ScreenshotLogin:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        from django.contrib.auth import get_user_model

        request.user = get_user_model().objects.get(username="screenshot")
        return self.get_response(request)
