"""preview.py: one contact sheet PNG of any outputs (images, animations, video frames, waveforms)."""

import time

from .. import cli, config, references, sheets
from ..errors import InputError

EPILOG = """\
examples:
  python scripts/preview.py projects/default/outputs/*.png
  python scripts/preview.py last:1 last:2 last:3 last:4 --out four.png
  python scripts/preview.py clip.mp4 --json      # a video: a grid of its frames

Each FILE is a path, or last, last:N (the Nth output of the newest command), PROMPT_ID:N.
Tiles are labelled with the file name (--labels gives your own). A video becomes a grid of
frames (needs PyAV: pip install av), a sound its waveform (WAV always; other formats with PyAV).
The sheet goes to projects/<project>/sheets/ unless --out.

exit codes: 0 written; 2 a file that is missing or a reference that names nothing.
"""


def build_parser():
    p = cli.parser("preview.py", "Make one contact sheet PNG of outputs.", EPILOG, server=False)
    p.add_argument("files", nargs="+", metavar="FILE", help="outputs: paths, last, last:N or PROMPT_ID:N")
    p.add_argument("--out", metavar="PNG", help="where to write the sheet")
    p.add_argument("--labels", metavar="A,B,...", help="tile labels, comma-separated, in order")
    p.add_argument("--tile", type=cli.positive_int, default=sheets.TILE, help="tile size in pixels (default 256)")
    p.add_argument("--project", default=None, help="project under projects/ (for last and the default folder)")
    return p


def run(args):
    project = args.project or "default"
    paths = []
    for text in args.files:
        path = references.resolve(text, "preview.py", project).path
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise InputError(f"{text}: {exc.strerror.lower() if exc.strerror else exc}") from None
        paths.append(path)
    labels = [x.strip() for x in args.labels.split(",")] if args.labels else None
    if labels and len(labels) != len(paths):
        raise InputError(f"--labels: {len(labels)} labels for {len(paths)} files")
    out = args.out or config.projects_dir() / project / "sheets" / f"sheet-{time.strftime('%Y%m%d-%H%M%S')}.png"
    path = sheets.contact_sheet(paths, out, labels, tile=args.tile)
    cli.emit(args, {"contact_sheet": path, "files": paths}, path)
    return 0
