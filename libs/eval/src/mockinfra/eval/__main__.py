"""`python -m mockinfra.eval score|run|actions ...`: one entry point, one module per command."""

from __future__ import annotations

import importlib
import sys
from typing import Final

# command -> module whose `main(argv) -> int` runs it
COMMANDS: Final = {
    "score": "mockinfra.eval.score",
    "run": "mockinfra.eval.loop",
    "actions": "mockinfra.eval.actions",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        print(f"usage: python -m mockinfra.eval {{{'|'.join(COMMANDS)}}} ...", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[args[0]])
    code: int = module.main(args[1:])
    return code


if __name__ == "__main__":
    raise SystemExit(main())
