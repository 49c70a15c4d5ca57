"""`glassbox board [RUNS_DIR] [--host 127.0.0.1] [--port 6006] [--no-browser]`: serve the dashboard until Ctrl-C."""

import argparse
import os
import sys
import webbrowser

from .server import make_server


class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments are reported in one line with exit code 2, like the rest of the glassbox command."""

    def error(self, message):
        self.exit(2, f"glassbox board: error: {message} (see glassbox board --help)\n")


def _port(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number in 0..65535 (0: any free port), got {value}")
    return value


def build_parser(prog="glassbox board"):
    parser = _OneLineParser(prog=prog, description="Watch training runs in the browser: live curves, images, "
                                                   "diagnostics, the graph and backprop step by step.")
    parser.add_argument("runs_dir", nargs="?", default="runs", metavar="RUNS_DIR",
                        help="the folder holding one subfolder per run (default: runs)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=_port, default=6006, help="port to listen on (default: 6006; 0: any free)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    return parser


def main(argv=None):
    """Run the board; returns the exit code (0 after Ctrl-C, 1 when the port cannot be opened, 2 bad arguments)."""
    args = build_parser().parse_args(argv)
    if not os.path.isdir(args.runs_dir):
        print(f"glassbox board: {args.runs_dir} does not exist yet; runs will appear when a training writes there "
              f"(e.g. glassbox run digits-cnn --out {os.path.join(args.runs_dir, 'digits-cnn')})", file=sys.stderr)
    try:
        server = make_server(args.runs_dir, host=args.host, port=args.port)
    except OSError as error:
        print(f"glassbox board: cannot listen on {args.host}:{args.port}: {error.strerror or error} "
              f"(try --port 0 for any free port)", file=sys.stderr)
        return 1
    print(f"glassbox board: serving {os.path.abspath(args.runs_dir)} at {server.url} (Ctrl-C to stop)", flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("glassbox board: stopped", flush=True)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
