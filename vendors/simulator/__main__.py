"""Run the vendor simulator in the foreground: python -m vendors.simulator --port 9100."""

from __future__ import annotations

import argparse

from .core import SimServer
from .scenarios import SCENARIOS, build


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Vendor API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--scenario", default="demo", choices=sorted(SCENARIOS))
    args = parser.parse_args(argv)
    server = SimServer(build(args.scenario), args.host, args.port)
    print(f"vendor simulator ({args.scenario}) listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
