"""The bundled example bracket (simulated from a CC0 photograph; see data/example/README.md)."""

from __future__ import annotations

from pathlib import Path

EXAMPLE_DIR = Path(__file__).parent / "data" / "example"


def example_bracket() -> list[Path]:
    """Paths of the bundled 3-frame example bracket, darkest first."""
    return sorted(EXAMPLE_DIR.glob("coffee_*.jpg"))
