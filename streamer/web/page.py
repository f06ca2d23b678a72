"""The live page: one HTML document and a small script (`static/`: no build step, no external assets).

Sections: cameras (state, fps, owner; click "watch" for the annotated MJPEG preview, which streams only while the
image is on the page), the alert feed (server-sent events; snapshot and per-field breakdown), "paste an alert
text" (parsed fields shown, then saved as a watchlist entry), and the sightings search with thumbnails. The page
signs in by posting the API token once; the server keeps it in an HttpOnly, SameSite=Strict cookie.

The review page (``/ui/review``, `review.html`/`review.js`): a camera's recent vehicles one at a time, the service's
answers to confirm, correct (type-ahead over the heads' labels) or mark "can't tell" from the keyboard; alerts judged
right or wrong vehicle; labels undone; conflicts flagged; "Adapt this camera" and "Roll back" with the report.
"""

from __future__ import annotations

from importlib.resources import files

_STATIC = files("streamer.web") / "static"
PAGE = (_STATIC / "live.html").read_text(encoding="utf-8")
SCRIPT = (_STATIC / "live.js").read_text(encoding="utf-8")
COMMON_SCRIPT = (_STATIC / "common.js").read_text(encoding="utf-8")
REVIEW_PAGE = (_STATIC / "review.html").read_text(encoding="utf-8")
REVIEW_SCRIPT = (_STATIC / "review.js").read_text(encoding="utf-8")
