"""The live page: one HTML document and a small script (`static/`: no build step, no external assets).

Sections: cameras (state, fps, owner; click "watch" for the annotated MJPEG preview, which streams only while the
image is on the page), the alert feed (server-sent events; snapshot and per-field breakdown), "paste an alert
text" (parsed fields shown, then saved as a watchlist entry), and the sightings search with thumbnails. The page
signs in by posting the API token once; the server keeps it in an HttpOnly, SameSite=Strict cookie.
"""

from __future__ import annotations

from importlib.resources import files

_STATIC = files("streamer.web") / "static"
PAGE = (_STATIC / "live.html").read_text(encoding="utf-8")
SCRIPT = (_STATIC / "live.js").read_text(encoding="utf-8")
