"""`python -m examples.helpdesk`: serve the demo helpdesk on http://127.0.0.1:8000/."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import uvicorn

from .app import create_app
from .host import open_helpdesk


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.helpdesk", description=__doc__)
    parser.add_argument("--data", type=Path, help="folder of the databases (default: a new one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--locale", default="en_US", help="how amounts are shown (Babel)")
    args = parser.parse_args(argv)
    folder = args.data or Path(tempfile.mkdtemp(prefix="helpdesk-"))
    helpdesk = open_helpdesk(folder)
    print(f"databases in {folder}; open http://{args.host}:{args.port}/")
    try:
        uvicorn.run(create_app(helpdesk, locale=args.locale), host=args.host, port=args.port)
    finally:
        helpdesk.close()


if __name__ == "__main__":
    main()
