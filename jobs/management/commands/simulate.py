from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vendors.simulator.__main__ import main
from vendors.simulator.scenarios import SCENARIOS


class Command(BaseCommand):
    help = "Run the vendor simulator in the foreground (same as python -m vendors.simulator)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=9100)
        parser.add_argument("--scenario", default="demo", choices=sorted(SCENARIOS))

    def handle(self, *args: Any, **options: Any) -> None:
        main(["--host", options["host"], "--port", str(options["port"]), "--scenario", options["scenario"]])
