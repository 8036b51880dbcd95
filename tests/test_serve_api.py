"""The JSON API of ``mefkit serve`` through FastAPI's TestClient.

Oracles: ``mefkit.fuse`` on the same frames (PSNR of the returned PNG), the CLI's own
error line for the same damaged files (the bad-input matrix of test_cli_bad_inputs.py),
and the caps set on the app. After every refused request the server must still fuse.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'mefkit[web]')")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note that httpx2 is the future of its TestClient
    from fastapi.testclient import TestClient

from typer.testing import CliRunner
from PIL import Image

import mefkit
from mefkit.cli import app as cli_app
from mefkit.example import example_bracket
from mefkit.registry import available_methods
from mefkit.serve import create_app
from mefkit.serve import jobs as jobs_module
from mefkit.serve.jobs import Job, JobQueue
from mefkit.serve.uploads import Limits

from .test_cli_bad_inputs import ROWS, _dataset

UNDER, OVER = example_bracket()[0], example_bracket()[-1]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def decode(data: bytes) -> np.ndarray:
    """RGB float in [0, 1] from PNG/TIFF/JPEG bytes, 8- or 16-bit."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert arr is not None
    peak = 65535.0 if arr.dtype == np.uint16 else 255.0
    return arr[:, :, ::-1].astype(np.float64) / peak


def upload(*paths: Path) -> list:
    return [("frames", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


def still_serving(client) -> None:
    """The server answers and fuses after a refused request."""
    assert client.get("/api/methods").status_code == 200
    r = client.post("/api/fuse", files=upload(UNDER, OVER))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"


def test_page_and_static_files(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js">' in r.text and "http" not in r.text.split("<footer")[0].replace("http-equiv", "")
    for name, kind in (("app.js", "javascript"), ("app.css", "css")):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"] and len(r.content) > 500
        assert "https://" not in r.text and "http://" not in r.text  # no CDN: the page works offline


@pytest.mark.parametrize("name", ["../app.py", "..%2Fapp.py", "%2e%2e/uploads.py", "index.htm", "app.py"])
def test_static_is_a_fixed_set_not_a_path(client, name):
    r = client.get(f"/static/{name}")
    assert r.status_code == 404
    assert "import" not in r.text


def test_methods_lists_every_method_with_typed_parameters(client):
    body = client.get("/api/methods").json()
    assert [m["name"] for m in body["methods"]] == sorted(available_methods())
    mertens = next(m for m in body["methods"] if m["name"] == "mertens")
    assert mertens["kind"] == "classic"
    levels = next(p for p in mertens["params"] if p["name"] == "levels")
    assert levels["type"] == "int or none"
    assert {m["kind"] for m in body["methods"]} == {"classic", "learned"}
    assert body["align"] == ["features", "mtb"] and body["deghost"] == ["consistency", "flow"]


def test_fuse_under_over_matches_the_library(client):
    r = client.post("/api/fuse", files=upload(OVER, UNDER))  # any upload order: frames are ordered
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert float(r.headers["X-Mefkit-Seconds"]) >= 0
    got = decode(r.content)
    want = mefkit.fuse([UNDER, OVER])
    assert got.shape == want.shape
    assert psnr(got, want) > 45


def test_fuse_method_params_and_formats(client):
    files = upload(*example_bracket())
    want = mefkit.fuse(example_bracket(), method="mertens", levels=4, contrast_weight=0.5)
    r = client.post("/api/fuse", files=files,
                    data={"method": "mertens", "params": json.dumps({"levels": 4, "contrast_weight": "0.5"}),
                          "format": "tif", "bits": "16"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/tiff"
    got = decode(r.content)
    assert got.dtype == np.float64 and psnr(got, want) > 80  # 16-bit: quantisation only
    r = client.post("/api/fuse", files=files, data={"format": "jpg", "quality": "90"})
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    assert psnr(decode(r.content), mefkit.fuse(example_bracket())) > 30


def test_fuse_with_alignment_toggle_matches_the_library(client):
    r = client.post("/api/fuse", files=upload(UNDER, OVER), data={"align": "mtb"})
    assert r.status_code == 200
    assert psnr(decode(r.content), mefkit.fuse([UNDER, OVER], align="mtb")) > 45


def test_job_progress_result_and_frames(client):
    r = client.post("/api/jobs", files=upload(*example_bracket()))
    assert r.status_code == 202
    job_id = r.json()["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    for _ in range(600):
        s = client.get(f"/api/jobs/{job_id}").json()
        if s["state"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.05)
    assert s["state"] == "done", s
    assert s["frames"] == [p.name for p in example_bracket()]  # darkest first
    want = mefkit.fuse(example_bracket())
    assert 0.5 < s["mef_ssim"] <= 1 and abs(s["mef_ssim"] - mefkit.metrics.mef_ssim(
        [mefkit.read_image(p)[0] for p in example_bracket()], want)) < 1e-3
    assert (s["width"], s["height"]) == (want.shape[1], want.shape[0])
    r = client.get(f"/api/jobs/{job_id}/result", params={"format": "png", "bits": 16, "download": 1})
    assert r.headers["content-disposition"] == 'attachment; filename="coffee_1_under_mertens.png"'
    assert psnr(decode(r.content), want) > 80
    frame = decode(client.get(f"/api/jobs/{job_id}/frames/2").content)
    assert psnr(frame, mefkit.read_image(OVER)[0]) > 45
    assert client.get(f"/api/jobs/{job_id}/frames/3").status_code == 404
    assert client.get(f"/api/jobs/{job_id}/result", params={"format": "jpg", "bits": 16}).status_code == 400
    assert client.get("/api/jobs/0123/result").status_code == 404


def test_inspect_orders_frames_and_makes_thumbnails(client):
    r = client.post("/api/inspect", files=upload(OVER, example_bracket()[1], UNDER))
    body = r.json()
    assert [f["name"] for f in body["frames"]] == [p.name for p in example_bracket()]
    assert body["order_by"] in ("exif", "luminance") and (body["width"], body["height"]) == (600, 400)
    thumb = body["frames"][0]["thumbnail"]
    assert thumb.startswith("data:image/jpeg;base64,")
    import base64

    img = Image.open(io.BytesIO(base64.b64decode(thumb.split(",", 1)[1])))
    assert max(img.size) == 160


# --- the CLI's bad-input matrix, through the API ------------------------------------------------------
#: Rows about input files; the others are about paths and outputs, which the API does not take.
FILE_ROWS = ["one frame", "size mismatch", "corrupt", "zero-byte", "text as jpg", "NaN", "1x1"]


def _cli_error(folder: Path) -> str:
    res = CliRunner().invoke(cli_app, ["fuse", str(folder), "-o", str(folder.parent / "o.png")])
    assert res.exit_code == 2, res.stderr
    line = res.stderr.strip()
    assert line.startswith("error: ")
    return line[len("error: "):].replace(f"{folder}/", "")


@pytest.mark.parametrize("row", FILE_ROWS)
def test_bad_input_gets_the_cli_words_as_4xx_json(client, tmp_path, row):
    data = _dataset(tmp_path, ROWS[row][0])
    folder = data / "br"
    files = [("frames", (p.name, p.read_bytes(), "image/png")) for p in sorted(folder.iterdir())]
    r = client.post("/api/fuse", files=files)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": _cli_error(folder)}
    # a job: refused at once in the same words, or (an error of the method itself) fails with them
    r = client.post("/api/jobs", files=files)
    if r.status_code == 202:
        r = _wait(client, r.json()["id"])
        assert r["state"] == "failed"
        r = {"error": r["error"]}
    else:
        assert 400 <= r.status_code < 500
        r = r.json()
    assert r == {"error": _cli_error(folder)}
    still_serving(client)


def _wait(client, job_id: str) -> dict:
    for _ in range(1200):
        s = client.get(f"/api/jobs/{job_id}").json()
        if s["state"] in ("done", "failed", "cancelled"):
            return s
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end: {s}")


def test_alpha_is_dropped_with_a_note_as_the_cli_does(client, tmp_path):
    folder = _dataset(tmp_path, "alpha") / "br"
    files = [("frames", (p.name, p.read_bytes(), "image/png")) for p in sorted(folder.iterdir())]
    body = client.post("/api/inspect", files=files).json()
    assert body["notes"] == ["f1.png: alpha channel dropped"]
    assert client.post("/api/fuse", files=files).status_code == 200


@pytest.mark.parametrize(("data", "words"), [
    ({"method": "nope"}, "unknown fusion method 'nope'; available: "),
    ({"params": '{"levels": 2.5}'}, "parameter levels: expected int or none, got '2.5' (not a whole number)"),
    ({"params": '{"nope": 1}'}, "method 'mertens' has no parameter 'nope'; accepted: "),
    ({"params": "[1, 2]"}, 'params must be a JSON object such as {"levels": 5}'),
    ({"align": "sideways"}, "align must be True, False or one of features, mtb; got 'sideways'"),
    ({"border": "wrap"}, "border must be one of fill, crop; got 'wrap'"),
    ({"bits": "12"}, "bits must be 8 or 16, got 12"),
    ({"bits": "eight"}, "bits must be a whole number, got 'eight'"),
    ({"format": "gif"}, "unsupported output format 'gif'; use jpg, png or tif"),
    ({"format": "jpg", "bits": "16"}, ".jpg holds only 8-bit data; use .png or .tif for 16 bits"),
    ({"quality": "0"}, "JPEG quality must be in 1..100, got 0"),
    ({"output": "/etc/passwd"}, "unknown form field 'output'; accepted: frames, method, "),
])
def test_bad_settings_are_refused_before_fusion(client, data, words):
    r = client.post("/api/fuse", files=upload(UNDER, OVER), data=data)
    assert r.status_code == 400
    assert r.json()["error"].startswith(words)
    still_serving(client)


def test_parameter_words_are_the_cli_words(client, tmp_path):
    res = CliRunner().invoke(cli_app, ["fuse", str(UNDER), str(OVER), "-o", str(tmp_path / "o.png"),
                                       "-p", "sigma=wide"])
    r = client.post("/api/fuse", files=upload(UNDER, OVER), data={"params": '{"sigma": "wide"}'})
    assert res.exit_code == 2 and r.status_code == 400
    assert res.stderr.strip() == "error: " + r.json()["error"]


# --- limits and safety ---------------------------------------------------------------------------------
def _png_bytes(h: int, w: int, value: int = 128) -> bytes:
    ok, buf = cv2.imencode(".png", np.full((h, w, 3), value, np.uint8))
    return buf.tobytes()


def test_upload_size_cap():
    with TestClient(create_app(Limits(max_upload_bytes=200_000))) as c:
        big = [("frames", ("a.png", b"\0" * 150_000, "image/png")), ("frames", ("b.png", b"\0" * 150_000, "image/png"))]
        r = c.post("/api/fuse", files=big)
        assert r.status_code == 413
        assert r.json() == {"error": "upload too large: this server takes at most 0.190735 MiB per request"}
        r = c.post("/api/fuse", files=[("frames", ("a.png", _png_bytes(40, 60, 60), "image/png")),
                                       ("frames", ("b.png", _png_bytes(40, 60, 200), "image/png"))])
        assert r.status_code == 200


def test_upload_size_cap_without_content_length():
    with TestClient(create_app(Limits(max_upload_bytes=50_000))) as c:
        def chunks():
            for _ in range(10):
                yield b"x" * 10_000

        r = c.post("/api/fuse", content=chunks(), headers={"content-type": "multipart/form-data; boundary=zz"})
        assert r.status_code == 413 and "upload too large" in r.json()["error"]
        assert c.get("/api/methods").status_code == 200


def test_pixel_cap_and_decompression_bomb(monkeypatch):
    with TestClient(create_app(Limits(max_pixels=4000))) as c:
        files = [("frames", (n, _png_bytes(40, 60, v), "image/png")) for n, v in (("a.png", 60), ("b.png", 200))]
        r = c.post("/api/fuse", files=files)
        assert r.status_code == 413
        assert r.json() == {"error": "b.png: the bracket exceeds this server's limit of 0.004 megapixels in all frames"}
        # A bomb: a tiny PNG whose header declares 100000 x 100000 pixels; refused from the
        # header, before anything is decoded (decoding would need 30 GB).
        decoded = []
        monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: decoded.append(1))
        import zlib

        png = _png_bytes(8, 8)
        ihdr = b"IHDR" + (100000).to_bytes(4, "big") * 2 + png[24:29]
        bomb = png[:12] + ihdr + zlib.crc32(ihdr).to_bytes(4, "big") + png[33:]
        r = c.post("/api/fuse", files=[("frames", ("bomb.png", bomb, "image/png")), files[0]])
        assert r.status_code == 413 and r.json()["error"].startswith("bomb.png: ")
        assert decoded == []


@pytest.mark.parametrize("n", [4, 40])
def test_frame_count_cap(n):
    with TestClient(create_app(Limits(max_frames=3))) as c:
        r = c.post("/api/fuse", files=[("frames", (f"f{i}.png", _png_bytes(8, 8, i), "image/png")) for i in range(n)])
        assert r.status_code == 413 and r.json() == {"error": f"{n} frames uploaded; this server takes at most 3 per bracket"}


@pytest.mark.parametrize(("name", "data", "status", "words"), [
    ("notes.txt", b"plain text", 415, "notes.txt: not a .jpg, .png or .tif file; only images are accepted"),
    ("anim.png", None, 415, "anim.png: a GIF file; only JPEG, PNG and TIFF images are accepted"),
    ("x.jpg", b"this is not a photograph\n", 400, "x.jpg: cannot decode image (corrupt file or unsupported format)"),
])
def test_only_images_are_accepted(client, name, data, status, words):
    if data is None:
        buf = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buf, format="GIF")
        data = buf.getvalue()
    r = client.post("/api/fuse", files=[("frames", (name, data, "image/png")), upload(UNDER)[0]])
    assert r.status_code == status and r.json() == {"error": words}
    still_serving(client)


def test_client_paths_never_reach_the_filesystem(client, tmp_path, monkeypatch):
    import tempfile

    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    victim = tmp_path / "victim.png"
    files = [("frames", ("../../victim.png", UNDER.read_bytes(), "image/jpeg")),
             ("frames", (str(tmp_path / "victim.png"), OVER.read_bytes(), "image/jpeg"))]
    r = client.post("/api/inspect", files=files)
    assert r.status_code == 200
    assert [f["name"] for f in r.json()["frames"]] == ["victim.png", "victim_2.png"]
    assert not victim.exists()
    assert list(private.iterdir()) == []  # the private folder is gone


def test_no_cors(client):
    for r in (client.get("/api/methods"),
              client.get("/api/methods", headers={"Origin": "https://example.org"}),
              client.options("/api/fuse", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}),
              client.options("/api/fuse")):
        assert r.status_code in (200, 403, 405)
        assert not any(k.lower().startswith("access-control") for k in r.headers)


# --- one fusion at a time, queue, cancel ---------------------------------------------------------------
def _blocking_fuse(started: threading.Event, release: threading.Event, seen: list):
    from mefkit.progress import tile_done

    def fake(bracket, method="mertens", **params):
        seen.append(method)
        started.set()
        for i in range(2000):
            if release.is_set():
                break
            tile_done(i + 1, 2000)  # the cancel hook runs here
            time.sleep(0.005)
        return np.full_like(bracket.frames[0], 0.5)

    return fake


def test_queue_runs_one_at_a_time_and_cancels(monkeypatch):
    started, release, seen = threading.Event(), threading.Event(), []
    monkeypatch.setattr(jobs_module, "fuse_bracket", _blocking_fuse(started, release, seen))
    with TestClient(create_app(max_waiting=1)) as c:
        first = c.post("/api/jobs", files=upload(UNDER, OVER), data={"score": "false"}).json()
        assert started.wait(30)
        second = c.post("/api/jobs", files=upload(UNDER, OVER)).json()
        s = c.get(f"/api/jobs/{second['id']}").json()
        assert (s["state"], s["position"]) == ("queued", 1)
        r = c.post("/api/jobs", files=upload(UNDER, OVER))  # queue full
        assert r.status_code == 503 and r.json()["error"].startswith("server busy")
        running = c.get(f"/api/jobs/{first['id']}").json()
        assert running["state"] == "running" and running["total"] == 2000
        # cancel the waiting one: it never runs
        assert c.post(f"/api/jobs/{second['id']}/cancel").json()["state"] == "cancelled"
        # cancel the running one: stops at its next tile
        c.post(f"/api/jobs/{first['id']}/cancel")
        for _ in range(400):
            if c.get(f"/api/jobs/{first['id']}").json()["state"] == "cancelled":
                break
            time.sleep(0.02)
        assert c.get(f"/api/jobs/{first['id']}").json()["state"] == "cancelled"
        assert c.get(f"/api/jobs/{first['id']}/result").status_code == 409
        assert seen == ["mertens"]  # the cancelled waiting job never started
        release.set()


def test_job_queue_forgets_old_jobs():
    q = JobQueue(max_waiting=2, keep=2)
    try:
        jobs = []
        frames = [np.full((8, 8, 3), v, np.float32) for v in (0.2, 0.8)]
        for _ in range(4):
            job = q.submit(Job("mertens", {}, mefkit.load_frames(frames), ["a", "b"], score=False))
            assert job.finished.wait(60) and job.state == "done"
            jobs.append(job)
        q.submit(Job("mertens", {}, mefkit.load_frames(frames), ["a", "b"], score=False)).finished.wait(60)
        assert q.get(jobs[0].id) is None and q.get(jobs[-1].id) is jobs[-1]
    finally:
        q.close()


def test_failed_job_reports_the_method_error(client, tmp_path):
    # a value of the right type that the method itself refuses: found only when it runs
    r = client.post("/api/jobs", files=upload(UNDER, OVER), data={"params": '{"sigma": -1}'})
    assert r.status_code == 202
    s = _wait(client, r.json()["id"])
    res = CliRunner().invoke(cli_app, ["fuse", str(UNDER), str(OVER), "-o", str(tmp_path / "o.png"), "-p", "sigma=-1"])
    assert s["state"] == "failed" and res.exit_code == 2
    assert res.stderr.strip() == "error: " + s["error"]
    r = client.post("/api/fuse", files=upload(UNDER, OVER), data={"params": '{"sigma": -1}'})
    assert r.status_code == 400 and r.json() == {"error": s["error"]}
    still_serving(client)


def test_a_bug_in_a_method_is_a_500_and_the_worker_survives(monkeypatch):
    def broken(bracket, method="mertens", **params):
        raise RuntimeError("boom")

    with TestClient(create_app()) as c:
        monkeypatch.setattr(jobs_module, "fuse_bracket", broken)
        r = c.post("/api/fuse", files=upload(UNDER, OVER))
        assert r.status_code == 500 and r.json() == {"error": "internal error: RuntimeError: boom"}
        monkeypatch.undo()
        still_serving(c)


@pytest.mark.slow
def test_a_learned_method_reports_tiles_and_cancels_at_the_next_tile():
    pytest.importorskip("torch", reason="the learned extra is not installed")
    with TestClient(create_app()) as c:
        r = c.post("/api/jobs", files=upload(UNDER, OVER),
                   data={"method": "progressive", "params": json.dumps({"tile": 96, "tile_pad": 8}), "score": "false"})
        assert r.status_code == 202
        job_id = r.json()["id"]
        seen = None
        for _ in range(1200):
            s = c.get(f"/api/jobs/{job_id}").json()
            if s["total"]:
                seen = s
                break
            assert s["state"] in ("queued", "running"), s
            time.sleep(0.05)
        assert seen is not None and seen["stage"] == "fusing with progressive" and seen["total"] > 1
        c.post(f"/api/jobs/{job_id}/cancel")
        s = _wait(c, job_id)
        assert s["state"] == "cancelled" and s["done"] < s["total"], s
        assert c.get(f"/api/jobs/{job_id}/result").status_code == 409
        still_serving(c)


def test_cross_site_requests_are_refused(client):
    r = client.post("/api/fuse", files=upload(UNDER, OVER), headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json() == {"error": "cross-site request refused: open the page from this server"}
    r = client.post("/api/fuse", files=upload(UNDER, OVER), headers={"Origin": "http://testserver"})
    assert r.status_code == 200  # the page itself (same origin)
    with TestClient(create_app(allowed_hosts=("127.0.0.1", "localhost"))) as c:
        r = c.get("/api/methods", headers={"Host": "rebound.example:8000"})
        assert r.status_code == 400 and r.json() == {"error": "host 'rebound.example' is not served here (use 127.0.0.1)"}
        assert c.get("/api/methods", headers={"Host": "localhost:8000"}).status_code == 200


def test_shutdown_stops_the_worker():
    app = create_app()
    with TestClient(app) as c:
        assert c.get("/api/methods").status_code == 200
        assert app.state.jobs.alive
    app.state.jobs._thread.join(timeout=10)
    assert not app.state.jobs.alive
