"""The web pages: static files served by the service itself, no build step, no CDN.

`/desktop` and `/supervisor` are HTML; `/static/<file>` their scripts and styles.
The pages carry no call data (they fetch it with the viewer's token), so they
are served to anyone. The server adds the security headers (`streams.access.
security_headers`: a self-only Content-Security-Policy, no framing unless
`[server] frame_ancestors` says, no Referer, no sniffing) to these answers as to
every other; the pages therefore hold no inline script or style.
"""

from __future__ import annotations

from pathlib import Path

from websockets.datastructures import Headers
from websockets.http11 import Response

WEB_DIR = Path(__file__).parent / "static"
PAGES = {
    "/desktop": "desktop.html",
    "/supervisor": "supervisor.html",
    "/softphone": "softphone.html",  # a WebRTC test caller
}
ASSET_PREFIX = "/static/"
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


class WebFiles:
    def __init__(self, folder: Path = WEB_DIR) -> None:
        # Read once: only files that exist at start are served (no path ever reaches the disk).
        self._files = {
            path.name: path.read_bytes()
            for path in folder.iterdir()
            if path.suffix in _CONTENT_TYPES
        }

    @staticmethod
    def is_web_path(path: str) -> bool:
        return path in PAGES or path.startswith(ASSET_PREFIX)

    def response(self, path: str) -> Response | None:
        """The file for `path`, or None when there is no such file."""
        name = PAGES.get(path) or path.removeprefix(ASSET_PREFIX)
        body = self._files.get(name)
        if body is None:
            return None
        headers = Headers(
            [
                ("Content-Type", _CONTENT_TYPES[Path(name).suffix]),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-cache"),
            ]
        )
        return Response(200, "OK", headers, body)
