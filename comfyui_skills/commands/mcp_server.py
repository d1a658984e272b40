"""mcp_server.py: the pack's tools over the Model Context Protocol, for agent hosts that speak it."""

import argparse
import dataclasses

from .. import bootstrap, cli, config
from ..errors import InputError

EPILOG = """\
examples:
  python scripts/mcp_server.py                        stdio: the host starts it (see README, "MCP")
  python scripts/mcp_server.py --url 127.0.0.1:8190   every tool's default server
  python scripts/mcp_server.py --http                 streamable HTTP at http://127.0.0.1:8765/mcp
  python scripts/mcp_server.py --http 9000 --host ::1
  COMFYUI_MCP_TOKEN=... python scripts/mcp_server.py --http --host 0.0.0.0
                                                      other machines, each request with
                                                      'Authorization: Bearer TOKEN'; put TLS in front

tools: status, search_nodes, list_models, list_templates, show_template, validate, run, queue,
upload, convert, diagnose. Each returns the JSON the matching script prints with --json; run and
queue wait also return the images inline. Errors come back as tool errors with the one line the
script would print. The API key ($COMFYUI_API_KEY or --api-key) is sent only to the configured
server and never appears in a result.

Needs the mcp extra (Python >= 3.10): pip install -e ".[mcp]".

exit codes: 0 the host closed the connection; 2 bad usage, a non-loopback --host without a token, or
no mcp package.
"""


def build_parser():
    p = cli.parser("mcp_server.py", "Serve the pack's tools over MCP (stdio, or streamable HTTP).",
                   EPILOG)
    p.add_argument("--http", nargs="?", type=_port, const=0, default=None, metavar="PORT",
                   help="serve streamable HTTP on loopback instead of stdio (default port 8765)")
    p.add_argument("--host", default="127.0.0.1",
                   help="with --http: 127.0.0.1 (default), ::1, localhost; any other address needs a token")
    p.add_argument("--token", metavar="TOKEN",
                   help="with --http: every request must send 'Authorization: Bearer TOKEN' "
                        "(default $COMFYUI_MCP_TOKEN; prefer the variable: a flag shows in the process list)")
    p.add_argument("--max-wait", type=cli.positive_float, metavar="SECONDS",
                   help="default of run's max_wait: past it a run returns its prompt id (default 120)")
    return p


def _port(text):
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def settings_of(args):
    """The server's settings: the common flags, and max_wait for every waiting tool."""
    from .. import mcp_server

    return dataclasses.replace(cli.settings_from(args), max_wait=args.max_wait or mcp_server.DEFAULT_MAX_WAIT)


def run(args):
    try:
        from .. import mcp_server
    except ImportError as exc:
        raise InputError(f"the MCP server needs the {exc.name or 'mcp'} package, which this Python lacks",
                         hint=f"install the mcp extra (Python >= 3.10): {bootstrap.setup_command(extra='mcp')}") from None
    settings = settings_of(args)
    if args.http is None:
        mcp_server.serve_stdio(settings)
    else:
        token = args.token or config.mcp_token()
        mcp_server.check_exposure(args.host, token)
        mcp_server.serve_http(settings, args.host, args.http or mcp_server.DEFAULT_HTTP_PORT, token=token,
                              ready=lambda url: cli.note(f"MCP server (streamable HTTP) at {url}"
                                                         + (" (bearer token required)" if token else "")))
    return 0
