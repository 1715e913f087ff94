"""The ``ctid`` command."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from .dsp import cli as dsp_cli
    from .signaling import cli as sig_cli
    from . import daemon, demo

    parser = argparse.ArgumentParser(prog="ctid", description="ctid: open CTI platform for voice boards")
    parser.add_argument("--version", action="version", version="ctid 0.1.0")
    sub = parser.add_subparsers(dest="cmd", required=True)
    dsp_cli.add_parser(sub)
    sig_cli.add_parser(sub)
    daemon.add_parser(sub)
    demo.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.cmd == "dsp":
        from .dsp import cli as dsp_cli

        return dsp_cli.run(args)
    if args.cmd == "sig":
        from .signaling import cli as sig_cli

        return sig_cli.run(args)
    if args.cmd == "run":
        from . import daemon

        return daemon.run(args)
    if args.cmd == "demo":
        from . import demo

        return demo.run(args)
    parser.error(f"unknown command {args.cmd}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
