"""The operator's HTTP surface: the recognise API (``POST /v1/recognize``) and the sightings search.

Only `streamer.web.settings` (and the stdlib-only helpers it names) may be imported by the serving path; the ASGI
stack (FastAPI, uvicorn) is imported by `streamer.web.app` and `streamer.web.server`, which the service loads only
when ``web.enabled`` is set (the ``[web]`` extra).
"""
