"""Screenshot of the admin's organization page with its usage charts, by headless Chromium.

    .venv/bin/python bench/admin_screenshot.py [--out var/admin-organization.png] [--usage 24h]

Starts the embedded server (statsapi/gunicorn_embedded.py: SQLite in a temporary directory,
in-memory TSDB, the demo data seeded in the worker), sends 30 error events to the demo DSN (20
accepted, 10 refused by an organization quota of 20 per hour, so the outcome chart has two
parts), and has Debian's ``chromium --headless`` capture
``/admin/organizations/organization/<demo>/change/``. The browser is logged in by the
bench-only settings module ``bench/screenshot_settings.py`` (a middleware that makes every
request the screenshot superuser's); nothing of it is used by the app. Look at the PNG.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_django(env: dict[str, str], code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "var" / "admin-organization.png"))
    parser.add_argument("--usage", default="24h", choices=["24h", "7d", "90d"])
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed: apt-get install chromium")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="statsapi-screenshot-") as directory:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": directory,
            "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT}",
            "DJANGO_SETTINGS_MODULE": "screenshot_settings",
            "DATABASE_URL": f"sqlite:///{directory}/screenshot.sqlite3",
            "STATSAPI_EMBEDDED": "True",
            "SECRET_KEY": "screenshot-" + os.urandom(8).hex(),
            "STATSAPI_BIND": f"127.0.0.1:{port}",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True
        )
        run_django(
            env,
            "from django.contrib.auth import get_user_model\n"
            "get_user_model().objects.create_superuser('screenshot', 's@example.com', None)",
        )
        log = open(Path(directory) / "server.log", "wb")  # noqa: SIM115
        server = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                "statsapi/gunicorn_embedded.py",
                "statsapi.wsgi:application",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while (
                b"statsapi is running with demo data"
                not in (Path(directory) / "server.log").read_bytes()
            ):
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit((Path(directory) / "server.log").read_text())
                time.sleep(0.3)
            found = json.loads(
                run_django(
                    env,
                    "import json\nfrom organizations.models import Organization, ProjectKey\n"
                    "org = Organization.objects.get(slug='demo')\n"
                    "org.rate_limit_count, org.rate_limit_window = 20, 3600\norg.save()\n"
                    "key = ProjectKey.objects.filter(project__organization=org).first()\n"
                    "print(json.dumps([org.pk, key.project_id, key.public_key]))",
                )
            )
            organization_id, project_id, public_key = found
            time.sleep(6)  # the worker's DSN-key cache (INGEST_CONFIG_CACHE_TTL) sees the quota
            base = f"http://127.0.0.1:{port}"
            for index in range(30):
                request = urllib.request.Request(
                    f"{base}/api/{project_id}/store/?sentry_key={public_key}",
                    data=json.dumps({"message": f"screenshot {index}"}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                try:
                    urllib.request.urlopen(request, timeout=10).read()
                except urllib.error.HTTPError as exc:
                    if exc.code != 429:
                        raise
            out = Path(args.out).resolve()
            out.parent.mkdir(parents=True, exist_ok=True)
            url = (
                f"{base}/admin/organizations/organization/{organization_id}/change/"
                f"?usage={args.usage}"
            )
            subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    f"--user-data-dir={directory}/chromium",
                    "--window-size=1280,1500",
                    f"--screenshot={out}",
                    url,
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            print(f"{out} ({out.stat().st_size} bytes): {url}")
        finally:
            server.terminate()
            server.wait(timeout=20)
            log.close()


if __name__ == "__main__":
    main()
