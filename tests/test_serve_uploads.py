"""mefkit.serve.uploads and mefkit.serve.catalog: safe names, caps, form parameters."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from mefkit.errors import BracketError, ParameterError
from mefkit.example import example_bracket
from mefkit.params import describe_params, parse_params
from mefkit.registry import available_methods
from mefkit.serve.catalog import method_catalog, parse_form_params
from mefkit.serve.uploads import Limits, NotAnImage, TooLarge, check_uploads, private_folder, read_uploads, safe_name


@pytest.mark.parametrize(("name", "want"), [
    ("f1.jpg", "f1.jpg"),
    ("../../etc/passwd.png", "passwd.png"),
    ("C:\\Users\\me\\IMG 0001.JPG", "IMG_0001.JPG"),
    ("/abs/path/x.tif", "x.tif"),
    ("..", "frame3"),
    (".hidden.png", "hidden.png"),
    ("", "frame3"),
    (None, "frame3"),
    ("été.png", "_t_.png"),
    ("a" * 300 + ".png", "a" * 96 + ".png"),
])
def test_safe_name(name, want):
    got = safe_name(name, 3)
    assert got == want
    assert "/" not in got and "\\" not in got and not got.startswith(".")


def _png(h: int, w: int) -> bytes:
    return cv2.imencode(".png", np.zeros((h, w, 3), np.uint8))[1].tobytes()


def test_check_uploads_names_and_caps():
    files = [("a.png", _png(10, 20)), ("dir/a.png", _png(10, 20)), ("a.png", _png(10, 20))]
    assert check_uploads(files, Limits()) == ["a.png", "a_2.png", "a_3.png"]
    with pytest.raises(TooLarge, match=r"^a_3.png: the bracket exceeds this server's limit of 0.0005 megapixels"):
        check_uploads(files, Limits(max_pixels=500))
    assert check_uploads(files, Limits(max_pixels=600)) == ["a.png", "a_2.png", "a_3.png"]
    with pytest.raises(TooLarge, match="3 frames uploaded; this server takes at most 2"):
        check_uploads(files, Limits(max_frames=2))
    with pytest.raises(NotAnImage, match="^x.gif: not a .jpg"):
        check_uploads([("x.gif", b"GIF89a")], Limits())
    with pytest.raises(BracketError, match="^x.png: cannot decode image"):
        check_uploads([("x.png", b"hello")], Limits())
    assert check_uploads([("empty.png", b"")], Limits()) == ["empty.png"]  # the reader says "file is empty"


@pytest.mark.parametrize("field", ["max_upload_bytes", "max_pixels", "max_frames"])
def test_limits_must_be_positive(field):
    with pytest.raises(ValueError, match=f"{field} must be >= 1"):
        Limits(**{field: 0})


def test_private_folder_is_private_and_removed():
    with private_folder() as folder:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        (folder / "x").write_text("x")
    assert not folder.exists()


def test_read_uploads_orders_and_leaves_nothing(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    paths = example_bracket()
    files = [(p.name, p.read_bytes()) for p in reversed(paths)]
    bracket, names, notes = read_uploads(files, Limits())
    assert names == [p.name for p in paths] and notes == []
    assert bracket.paths == [None, None, None] and len(bracket.frames) == 3
    assert os.listdir(tmp_path) == []
    with pytest.raises(BracketError, match=r"^a bracket needs at least two frames, got 1: coffee_3_over.jpg$"):
        read_uploads(files[:1], Limits())
    assert os.listdir(tmp_path) == []


def test_catalog_matches_the_registry_and_the_cli_table():
    cat = method_catalog()
    assert [m["name"] for m in cat["methods"]] == sorted(available_methods())
    for m in cat["methods"]:
        docs = describe_params(m["name"])
        assert [p["name"] for p in m["params"]] == [d.name for d in docs]
        json.dumps(m)  # every default is JSON
    mertens = {p["name"]: p for p in next(m for m in cat["methods"] if m["name"] == "mertens")["params"]}
    assert mertens["sigma"]["control"] == "float" and mertens["sigma"]["default"] == 0.2


def test_parse_form_params_is_the_cli_parser():
    assert parse_form_params("mertens", '{"levels": 4, "sigma": "0.3"}') == parse_params("mertens", ["levels=4", "sigma=0.3"])
    assert parse_form_params("mertens", "") == {} and parse_form_params("mertens", None) == {}
    with pytest.raises(ParameterError) as api:
        parse_form_params("mertens", '{"levels": "x"}')
    with pytest.raises(ParameterError) as cli:
        parse_params("mertens", ["levels=x"])
    assert str(api.value) == str(cli.value) == "parameter levels: expected int or none, got 'x' (not a number)"
    with pytest.raises(ParameterError, match="params must be a JSON object"):
        parse_form_params("mertens", "{oops")


def test_the_page_ships_as_package_data():
    import fnmatch

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs tomli before Python 3.11")

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["mefkit"]
    static = root / "src" / "mefkit" / "serve" / "static"
    files = [p.relative_to(static.parents[1]).as_posix() for p in static.iterdir()]
    assert sorted(p.name for p in static.iterdir()) == ["app.css", "app.js", "index.html"]
    for f in files:
        assert any(fnmatch.fnmatch(f, g) for g in globs), f"{f} is not package data"
    assert "fastapi" in " ".join(config["project"]["optional-dependencies"]["web"])
    own = next(d for d in config["project"]["optional-dependencies"]["test"] if d.startswith("mefkit["))
    assert "web" in own[len("mefkit["):-1].split(","), own  # the test extra installs the web app
