"""A real RTSP server for tests: GStreamer's gst-rtsp-server run by the system Python as a subprocess.

The project's virtual environment has no GStreamer bindings, so this file has two halves: :class:`RtspServer`
(standard library only) starts and stops ``/usr/bin/python3 tests/rtsp_server.py`` from the tests, and
:func:`main` is that subprocess. It serves H.264 over RTSP with basic authentication, either a moving test pattern
(``videotestsrc ! x264enc``) or an MP4 file, on 127.0.0.1. The password travels in the environment, not argv.

Run by hand:
    RTSP_SERVER_PASSWORD=secret /usr/bin/python3 tests/rtsp_server.py --port 8554 --user admin
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

SYSTEM_PYTHON = "/usr/bin/python3"
_PASSWORD_ENV = "RTSP_SERVER_PASSWORD"
_READY = "READY"
_ELEMENTS = ("videotestsrc", "x264enc", "rtph264pay", "qtdemux", "h264parse")


@functools.cache
def unavailable_reason() -> str | None:
    """Why the RTSP server cannot run here, or ``None`` when it can (checked once per test session)."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found (the RTSP server needs the system Python with GStreamer bindings)"
    probe = (
        "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        f"missing = [e for e in {_ELEMENTS!r} if Gst.ElementFactory.find(e) is None]; "
        "print(' '.join(missing))"
    )
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"cannot run {SYSTEM_PYTHON}: {error}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        return (
            f"{SYSTEM_PYTHON} cannot import gi/GstRtspServer ({last}); install python3-gi "
            "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly"
        )
    if done.stdout.strip():
        return f"GStreamer elements missing: {done.stdout.strip()}"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RtspServer:
    """Starts and stops the RTSP server subprocess.

    Args:
        port: TCP port on 127.0.0.1; a free one when ``None``. Reuse ``server.port`` to restart on the same port.
        user: basic-auth user.
        password: basic-auth password.
        video: an MP4 (H.264) file to serve instead of the test pattern.
        fps: test pattern frame rate.
        tcp_only: refuse RTP over UDP (461 Unsupported transport), so a client that streams must be using TCP.
    """

    def __init__(
        self,
        port: int | None = None,
        user: str = "admin",
        password: str = "rtsp-test-password",
        video: Path | None = None,
        fps: int = 15,
        tcp_only: bool = False,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.user = user
        self.password = password
        self.video = video
        self.fps = fps
        self.tcp_only = tcp_only
        self.mount = "/stream"
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        """The stream's URL with credentials."""
        return f"rtsp://{self.user}:{self.password}@127.0.0.1:{self.port}{self.mount}"

    def url_with(self, user: str, password: str) -> str:
        """The stream's URL with other credentials."""
        return f"rtsp://{user}:{password}@127.0.0.1:{self.port}{self.mount}"

    def start(self, timeout: float = 15.0) -> RtspServer:
        """Starts the server and waits until it listens.

        Raises:
            RuntimeError: the server exited or did not get ready within ``timeout``.
        """
        command = [SYSTEM_PYTHON, __file__, "--port", str(self.port), "--user", self.user, "--fps", str(self.fps)]
        if self.video is not None:
            command += ["--video", str(self.video)]
        if self.tcp_only:
            command.append("--tcp-only")
        env = {**os.environ, _PASSWORD_ENV: self.password}
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        self._process = process
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([process.stdout], [], [], remaining)
            if not readable:
                break
            line = process.stdout.readline()
            if not line:
                self.kill()
                raise RuntimeError(f"RTSP server exited with {process.wait()} before it was ready")
            if line.strip() == _READY:
                return self
        self.kill()
        raise RuntimeError(f"RTSP server not ready within {timeout} s")

    def pause(self) -> None:
        """Freezes the server (SIGSTOP): connections stay open but no data flows, like a hung camera."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Unfreezes a paused server (SIGCONT)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Kills the server at once (as a crash or a power cut would) and waits for it to exit."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()  # SIGKILL also ends a paused process
        if process is not None:
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.kill()


def _launch_description(video: str | None, fps: int) -> str:
    if video is not None:
        # Stream the file's own H.264 without re-encoding; the server plays it in real time.
        return f'( filesrc location="{video}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
    return (
        f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate={fps}/1 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def main(argv: list[str] | None = None) -> None:
    """The server subprocess: serves ``rtsp://USER:$RTSP_SERVER_PASSWORD@127.0.0.1:PORT/stream`` until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--video", default=None)
    parser.add_argument("--tcp-only", action="store_true", help="refuse RTP over UDP")
    args = parser.parse_args(argv)
    password = os.environ.get(_PASSWORD_ENV, "")

    # Imported here: only the system Python has GStreamer's bindings.
    gi = importlib.import_module("gi")
    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    gst = importlib.import_module("gi.repository.Gst")
    rtsp = importlib.import_module("gi.repository.GstRtspServer")
    glib = importlib.import_module("gi.repository.GLib")
    gst.init(None)

    server = rtsp.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = rtsp.RTSPMediaFactory()
    factory.set_launch(_launch_description(args.video, args.fps))
    factory.set_shared(True)
    if args.tcp_only:
        gst_rtsp = importlib.import_module("gi.repository.GstRtsp")
        factory.set_protocols(gst_rtsp.RTSPLowerTrans.TCP)

    auth = rtsp.RTSPAuth()
    token = rtsp.RTSPToken()
    token.set_string("media.factory.role", "viewer")
    auth.add_basic(rtsp.RTSPAuth.make_basic(args.user, password), token)
    server.set_auth(auth)
    permissions = rtsp.RTSPPermissions()
    permissions.add_permission_for_role("viewer", "media.factory.access", True)
    permissions.add_permission_for_role("viewer", "media.factory.construct", True)
    factory.set_permissions(permissions)

    server.get_mount_points().add_factory("/stream", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{args.port}")
    print(_READY, flush=True)
    glib.MainLoop().run()


if __name__ == "__main__":
    main()
