"""gallery.py: what this project made, as a static page or as JSON."""

from .. import cli, gallery

EPILOG = """\
examples:
  python scripts/gallery.py                      # writes projects/default/gallery.html
  python scripts/gallery.py --json --since today # what was made today, for an agent
  python scripts/gallery.py --project lighthouse --out /tmp/g.html

The page is one static HTML file (no server): a thumbnail of every output, newest first, with its
prompt, negative, seed, model, LoRAs and strengths, steps, cfg, sampler, size, denoise, input
image and mask, template or workflow, prompt id, server and time; a box filters by any of them and
each thumbnail opens the full file. Every run updates it. --json prints one object whose
"outputs" list holds each file with those settings, newest first.

exit codes: 0 written or printed.
"""


def build_parser():
    p = cli.parser("gallery.py", "What this project made: a static page, or JSON with --json.", EPILOG,
                   server=False)
    p.add_argument("--project", default=None, help="project under projects/ (default: default)")
    p.add_argument("--since", metavar="WHEN", help="only what was made from then: today, or a date (2026-05-01)")
    p.add_argument("--out", metavar="HTML", help="where to write the page (default projects/<project>/gallery.html)")
    return p


def run(args):
    project = args.project or "default"
    if args.json:
        cli.emit(args, gallery.as_json(project, args.since), "")
        return 0
    path, count = gallery.write_page(project, args.out)
    cli.emit(args, {"gallery": path, "outputs": count}, f"{path} ({count} outputs)")
    return 0
