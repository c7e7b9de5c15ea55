"""The Jinja2 environment for the server-rendered pages, loaded once."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.templating import Jinja2Templates

templates: Final = Jinja2Templates(directory=Path(__file__).parent / "templates")
