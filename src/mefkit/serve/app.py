"""The FastAPI application of ``mefkit serve``: the page, the JSON API, the error replies.

Routes
------
``GET /``                              the page (``static/index.html``)
``GET /static/NAME``                   its CSS and JavaScript (a fixed set, read once from the package)
``GET /api/methods``                   methods, kinds, typed parameters (:func:`.catalog.method_catalog`)
``GET /api/example``                   the bundled example bracket; ``/api/example/K`` its frame K
``POST /api/inspect``                  frames -> their darkest-first order, sizes and thumbnails
``POST /api/fuse``                     frames -> the fused image (PNG by default), in one request
``POST /api/jobs``                     frames -> a queued job (202); ``GET /api/jobs/ID`` its progress
``POST /api/jobs/ID/cancel``           cancel it
``GET /api/jobs/ID/result``            its result (``?format=png|jpg|tif&bits=8|16&download=1``)
``GET /api/jobs/ID/frames/K``          frame K as the method received it (PNG), for comparisons

The multipart form of the POST routes: ``frames`` (two or more files), ``method``
(default ``mertens``), ``params`` (a JSON object), ``bits`` (8 or 16), ``format``
(``png``, ``jpg``, ``tif``), ``quality`` (JPEG, 1..100), ``align`` (``features`` or
``mtb``), ``deghost`` (``consistency`` or ``flow``), ``border`` (``fill`` or ``crop``), ``score``
(``true``/``false``: MEF-SSIM of the result, jobs only).

Every user error comes back as a 4xx reply with the JSON body ``{"error": "..."}`` in
the CLI's words (400 bad input, 404 unknown job, 409 result not ready, 413 over a cap,
415 not an image, 503 queue full), and the server goes on serving. No CORS headers are
sent, so other sites' pages cannot read the API's replies, and requests from other
sites' pages (their ``Origin``) are refused with 403.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.resources
import logging
from typing import Any, AsyncIterator

import cv2
import numpy as np
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..api import check_method_params
from ..errors import MefkitError, OutputError
from ..example import example_bracket
from ..io import FORMAT_BITS, quantize, write_image
from ..prepare import check_stages
from .catalog import method_catalog, parse_form_params
from .jobs import Busy, Job, JobQueue
from .uploads import Limits, NotAnImage, TooLarge, private_folder, read_uploads

log = logging.getLogger("mefkit.serve")

#: The files of the page, as served: name -> media type.
STATIC_FILES = {"index.html": "text/html; charset=utf-8", "app.css": "text/css; charset=utf-8",
                "app.js": "text/javascript; charset=utf-8"}
#: Output formats by form value -> file suffix.
FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tif": ".tif", "tiff": ".tif"}
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".tif": "image/tiff"}
THUMB_SIDE = 160
#: Form fields other than ``frames`` (anything else is refused, so typos do not pass silently).
FIELDS = ("method", "params", "bits", "format", "quality", "align", "deghost", "border", "score")


def _status(exc: MefkitError) -> int:
    if isinstance(exc, TooLarge):
        return 413
    if isinstance(exc, NotAnImage):
        return 415
    if isinstance(exc, Busy):
        return 503
    return 400


def error(status: int, message: str) -> JSONResponse:
    """A JSON error reply ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status)


class _BodyLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` (413) before it is parsed.

    A declared ``Content-Length`` over the cap is refused before reading; a body sent
    without one is counted as it arrives and refused once over.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _message(self) -> str:
        return f"upload too large: this server takes at most {self.max_bytes / 2**20:g} MiB per request"

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await error(413, self._message())(scope, receive, send)
            return
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(self._message())
            return message

        await self.app(scope, counted, send)


class _SameOrigin:
    """ASGI middleware against other sites driving the API through a visitor's browser.

    * A request whose ``Origin`` (sent by browsers on cross-site requests) is not this
      server's own address is refused (403): another site's page cannot start or cancel
      fusions here. Tools such as curl send no ``Origin`` and pass.
    * With ``allowed_hosts``, a ``Host`` header naming another host is refused (400):
      a DNS-rebinding page, whose name resolves to 127.0.0.1, cannot read the API.
    """

    def __init__(self, app: Any, allowed_hosts: tuple[str, ...] | None) -> None:
        self.app, self.allowed_hosts = app, allowed_hosts

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if self.allowed_hosts is not None:
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in self.allowed_hosts:
                await error(400, f"host {name!r} is not served here (use {self.allowed_hosts[0]})")(scope, receive, send)
                return
        origin = headers.get(b"origin")
        if origin is not None and origin.decode("latin-1").split("://", 1)[-1] != host:
            await error(403, "cross-site request refused: open the page from this server")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _text(form: Any, name: str, default: str | None = None) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return default
    value = value.strip()
    return value if value else default


def _int_field(form: Any, name: str, default: int | None) -> int | None:
    text = _text(form, name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise OutputError(f"{name} must be a whole number, got {text!r}") from None


def _output_options(fmt: str | None, bits: int | None, quality: int) -> str:
    """Check format, bits and quality as ``mefkit fuse`` does; return the file suffix."""
    suffix = FORMATS.get((fmt or "png").lower().lstrip("."))
    if suffix is None:
        raise OutputError(f"unsupported output format {fmt!r}; use jpg, png or tif")
    if bits is not None and bits not in (8, 16):
        raise OutputError(f"bits must be 8 or 16, got {bits}")
    if bits is not None and bits not in FORMAT_BITS[suffix]:
        raise OutputError(f"{suffix} holds only 8-bit data; use .png or .tif for 16 bits")
    if not 1 <= quality <= 100:
        raise OutputError(f"JPEG quality must be in 1..100, got {quality}")
    return suffix


def _bool_field(form: Any, name: str, default: bool) -> bool:
    text = (_text(form, name) or "").lower()
    if not text:
        return default
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise OutputError(f"{name} must be true or false, got {text!r}")


async def _parse_request(request: Request, limits: Limits) -> dict[str, Any]:
    """Read and check a fusion form: everything but the pixels first, then the frames."""
    # The parser's own part caps stay loose (the body's byte cap bounds the parts), so that
    # too many frames is answered by check_uploads, in its words and with 413.
    form = await request.form(max_files=1000, max_fields=1000)
    try:
        unknown = sorted(set(form.keys()) - set(FIELDS) - {"frames"})
        if unknown:
            raise OutputError(f"unknown form field {unknown[0]!r}; accepted: frames, {', '.join(FIELDS)}")
        method = _text(form, "method", "mertens")
        params = parse_form_params(method, _text(form, "params"))
        check_method_params(method, params)
        align, deghost, border = _text(form, "align"), _text(form, "deghost"), _text(form, "border", "fill")
        align, deghost = check_stages(align, deghost, None, border)
        bits = _int_field(form, "bits", None)
        quality = _int_field(form, "quality", 95)
        suffix = _output_options(_text(form, "format"), bits, quality)
        score = _bool_field(form, "score", True)
        files = []
        for item in form.getlist("frames"):
            if not isinstance(item, UploadFile):
                raise NotAnImage("frames must be uploaded files, not text fields")
            files.append((item.filename, await item.read()))
    finally:
        await form.close()
    bracket, names, notes = await run_in_threadpool(read_uploads, files, limits)
    return {"method": method, "params": params, "align": align, "deghost": deghost, "border": border,
            "bits": bits, "quality": quality, "suffix": suffix, "score": score,
            "bracket": bracket, "names": names, "notes": notes}


def encode_result(image: np.ndarray, suffix: str, bits: int, quality: int, method: str) -> bytes:
    """``image`` (float in [0, 1] or uint16) encoded as mefkit writes files (tagged), via a private folder."""
    if image.dtype == np.uint16:
        image = image.astype(np.float32) / np.float32(65535)
    with private_folder() as folder:
        path = write_image(folder / f"result{suffix}", image, bits=bits, quality=quality, method=method)
        return path.read_bytes()


def _png(image_u8: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image_u8[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB as PNG
        raise OutputError("could not encode a preview")
    return buf.tobytes()


def _thumbnail(frame: np.ndarray) -> str:
    h, w = frame.shape[:2]
    scale = THUMB_SIDE / max(h, w)
    small = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(quantize(small, 8)[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _out_bits(bits: int | None, suffix: str, input_bits: int) -> int:
    """``mefkit fuse``'s default: 16 when an input is 16-bit and the format holds it, else 8."""
    if bits is not None:
        return bits
    return 16 if input_bits == 16 and 16 in FORMAT_BITS[suffix] else 8


def _download_name(job: Job, suffix: str) -> str:
    stem = job.names[0].rsplit(".", 1)[0] if job.names else "fused"
    return f"{stem}_{job.method}{suffix}"


def job_status(job: Job, jobs: JobQueue) -> dict[str, Any]:
    """What ``GET /api/jobs/ID`` returns: state, stage, tiles, position, time, score, error."""
    shape = job.result.shape if job.result is not None else None
    return {"id": job.id, "state": job.state, "stage": job.stage, "done": job.done, "total": job.total,
            "position": jobs.position(job), "method": job.method, "params": {k: str(v) for k, v in job.params.items()},
            "frames": job.names, "notes": job.notes, "seconds": job.seconds, "mef_ssim": job.mef_ssim,
            "error": job.error, "width": shape[1] if shape else None, "height": shape[0] if shape else None}


def create_app(limits: Limits | None = None, max_waiting: int = 8,
               allowed_hosts: tuple[str, ...] | None = None) -> FastAPI:
    """Build the ``mefkit serve`` application.

    Parameters
    ----------
    limits : Limits, optional
        Upload caps (default :class:`~mefkit.serve.uploads.Limits`: 300 MiB per request,
        120 megapixels per bracket, 16 frames).
    max_waiting : int
        Jobs that may wait behind the running one; more get HTTP 503.
    allowed_hosts : tuple of str, optional
        Host names the ``Host`` header may give (``mefkit serve`` on a loopback address
        passes ``("127.0.0.1", "localhost", "[::1]")``); None: any.

    Returns
    -------
    FastAPI
        The app; its ``state.jobs`` is the :class:`~mefkit.serve.jobs.JobQueue`
        (closed on shutdown).
    """
    limits = limits or Limits()
    static = {name: importlib.resources.files(__package__).joinpath("static", name).read_bytes()
              for name in STATIC_FILES}
    jobs = JobQueue(max_waiting=max_waiting)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()  # waiting jobs are cancelled; the worker ends after the running one

    app = FastAPI(title="mefkit", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.jobs, app.state.limits = jobs, limits
    app.add_middleware(_BodyLimit, max_bytes=limits.max_upload_bytes)
    app.add_middleware(_SameOrigin, allowed_hosts=allowed_hosts)  # added last: runs first

    @app.exception_handler(MefkitError)
    async def _mefkit_error(request: Request, exc: MefkitError) -> JSONResponse:
        return error(_status(exc), str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return error(400, f"{where}: {first.get('msg', 'invalid value')}")

    @app.exception_handler(MemoryError)
    async def _memory_error(request: Request, exc: MemoryError) -> JSONResponse:
        return error(413, "out of memory; try a smaller bracket or a tiled method")

    @app.get("/", response_class=HTMLResponse)
    def index() -> Response:
        return Response(static["index.html"], media_type=STATIC_FILES["index.html"])

    @app.get("/static/{name}")
    def static_file(name: str) -> Response:
        if name not in static:  # a fixed set: the client's text is a key, never a path
            return error(404, f"no such file: {name}")
        return Response(static[name], media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})

    @app.get("/api/methods")
    def methods() -> dict[str, Any]:
        return method_catalog()

    @app.get("/api/example")
    def example() -> dict[str, Any]:
        return {"frames": [{"name": p.name, "url": f"/api/example/{i}"} for i, p in enumerate(example_bracket())]}

    @app.get("/api/example/{index}")
    def example_frame(index: int) -> Response:
        paths = example_bracket()
        if not 0 <= index < len(paths):
            return error(404, f"the example has frames 0..{len(paths) - 1}, not {index}")
        return Response(paths[index].read_bytes(), media_type="image/jpeg")

    @app.post("/api/inspect")
    async def inspect_frames(request: Request) -> dict[str, Any]:
        form = await _parse_request(request, limits)
        bracket = form["bracket"]
        thumbs = await run_in_threadpool(lambda: [_thumbnail(f) for f in bracket.frames])
        h, w = bracket.shape
        return {"order_by": bracket.order_by, "width": w, "height": h, "bit_depth": bracket.bit_depth,
                "notes": form["notes"],
                "frames": [{"name": n, "thumbnail": t} for n, t in zip(form["names"], thumbs)]}

    def _job(form: dict[str, Any], score: bool) -> Job:
        return Job(form["method"], form["params"], form["bracket"], form["names"], align=form["align"],
                   deghost=form["deghost"], border=form["border"], score=score, notes=form["notes"])

    @app.post("/api/fuse")
    async def fuse(request: Request) -> Response:
        form = await _parse_request(request, limits)
        bit_depth = form["bracket"].bit_depth
        job = jobs.submit(_job(form, score=False))
        await run_in_threadpool(job.finished.wait)
        if job.state != "done":
            status = 500 if job.internal else 400 if job.state == "failed" else 409
            return error(status, job.error or f"fusion {job.state}")
        suffix = form["suffix"]
        data = await run_in_threadpool(encode_result, job.result, suffix,
                                       _out_bits(form["bits"], suffix, bit_depth), form["quality"], job.method)
        headers = {"X-Mefkit-Seconds": f"{job.seconds:.3f}", "X-Mefkit-Job": job.id,
                   "Content-Disposition": f'inline; filename="{_download_name(job, suffix)}"'}
        return Response(data, media_type=MEDIA_TYPES[suffix], headers=headers)

    @app.post("/api/jobs", status_code=202)
    async def submit(request: Request) -> JSONResponse:
        form = await _parse_request(request, limits)
        job = jobs.submit(_job(form, score=form["score"]))
        return JSONResponse(job_status(job, jobs), status_code=202)

    def _find(job_id: str) -> Job:
        job = jobs.get(job_id)
        if job is None:
            raise StarletteHTTPException(404, f"no job {job_id!r} (unknown, or forgotten after newer ones)")
        return job

    @app.get("/api/jobs/{job_id}")
    def status(job_id: str) -> dict[str, Any]:
        return job_status(_find(job_id), jobs)

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel(job_id: str) -> dict[str, Any]:
        job = _find(job_id)
        jobs.cancel(job)
        return job_status(job, jobs)

    @app.get("/api/jobs/{job_id}/result")
    def result(job_id: str, format: str = "png", bits: int = 8, quality: int = 95, download: bool = False) -> Response:
        job = _find(job_id)
        suffix = _output_options(format, bits, quality)
        if job.state != "done" or job.result is None:
            return error(409, f"job {job_id} is {job.state}, it has no result")
        data = encode_result(job.result, suffix, bits, quality, job.method)
        how = "attachment" if download else "inline"
        return Response(data, media_type=MEDIA_TYPES[suffix],
                        headers={"Content-Disposition": f'{how}; filename="{_download_name(job, suffix)}"'})

    @app.get("/api/jobs/{job_id}/frames/{index}")
    def frame(job_id: str, index: int) -> Response:
        job = _find(job_id)
        if job.state != "done":
            return error(409, f"job {job_id} is {job.state}, it has no frames to show")
        if not 0 <= index < len(job.previews):
            return error(404, f"job {job_id} has frames 0..{len(job.previews) - 1}, not {index}")
        return Response(_png(job.previews[index]), media_type="image/png")

    return app


__all__ = ["FORMATS", "STATIC_FILES", "create_app", "encode_result", "error", "job_status"]
