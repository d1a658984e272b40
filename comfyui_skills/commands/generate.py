"""generate.py: one sentence in, files out, on the models this server really has."""

import json
import os

from .. import cli, config, generate, pipeline, slots
from ..errors import ServerError, ServerUnreachable
from ..progress import Progress
from . import run as run_cmd

EPILOG = """\
examples:
  python scripts/generate.py "a lighthouse at dawn"
  python scripts/generate.py "a red fox in the snow" --size 768x512 --seed 7 --count 2
  python scripts/generate.py "turn it into a watercolour" --image photo.png
  python scripts/generate.py "upscale this" --image small.png
  python scripts/generate.py "a 5-second video of waves" --dry-run --json
  python scripts/generate.py "a cat" --template default --model my-sd15.safetensors

It picks, among the official templates for the task, one this server can run now with the files
it has (a template's model may be swapped for an installed file of the same family, keeping the
template's resolution, steps, cfg and sampler), fills the prompt, seed, size and input image in,
validates, runs and downloads. It says which template and model it chose and why. Partner (API)
templates spend credits: only with --allow-api (the Comfy account key comes from $COMFY_API_KEY
and goes only into the prompt's extra_data, never printed). With no server it builds from the
snapshot (inventory.py) and exports the workflow.

tasks: """ + ", ".join(generate.TASKS) + """

exit codes: 0 done (or exported offline); 1 nothing installed can do it (the best template and the
files it needs are named), or the run failed; 2 bad input; 3 no server and no snapshot;
4 server error; 5 server too slow; 130 Ctrl-C.
"""


def build_parser():
    p = cli.parser("generate.py", "Make an image, video or sound from one sentence with the models installed.",
                   EPILOG)
    cli.add_api_flag(p)
    p.add_argument("request", help="what to make, in words (it becomes the prompt)")
    p.add_argument("--image", metavar="PATH", help="an input image (edit, image-to-image, upscale, image-to-video)")
    p.add_argument("--task", choices=list(generate.TASKS), help="what to do (default: read from the request)")
    p.add_argument("--negative", metavar="TEXT", help="what to keep out of it")
    p.add_argument("--count", type=cli.positive_int, default=1, metavar="N", help="how many (a batch, else N prompts)")
    p.add_argument("--size", metavar="WxH", help="width x height (the family's own when not given)")
    p.add_argument("--seed", type=int, help="noise seed (random each run when not given)")
    p.add_argument("--steps", type=cli.positive_int, help="sampler steps (the template's when not given)")
    p.add_argument("--model", metavar="FILE", help="use this installed model file")
    p.add_argument("--template", metavar="NAME", help="use this official template")
    p.add_argument("--allow-api", action="store_true", help="allow partner (API) nodes, which spend credits")
    p.add_argument("--dry-run", action="store_true", help="choose and fill, print it, queue nothing")
    p.add_argument("--out", help="download folder (default: projects/<project>/outputs)")
    p.add_argument("--no-wait", action="store_true", help="print the prompt id and return at once")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def run(args):
    image = generate.image_file(args.image) if args.image else None
    if args.size:
        slots.parse_size(args.size)  # a bad --size is refused before the server is asked anything
    client = cli.client_from(args, connect_timeout=1.5)
    online = True
    kind = config.server_api(args.api, client.url)
    catalog = None
    if kind != "v2":
        try:
            catalog = generate.catalog_from_server(client, config.state_dir())
        except ServerUnreachable as exc:
            online = False
            cli.note(f"no ComfyUI answered ({exc.message}); choosing from the last snapshot")
            catalog = generate.catalog_from_snapshot(config.state_dir())
        except ServerError as exc:
            from ..v2.client import is_v2

            if not (kind == "auto" and exc.status == 404 and is_v2(client.url, client.api_key)):
                raise
            kind = "v2"
    if catalog is None:
        # v2 serves no templates, node schemas or model lists: those come from a snapshot taken of
        # the ComfyUI behind it (inventory.py --url ITS_URL); the run itself goes through v2
        catalog = generate.catalog_from_snapshot(config.state_dir())
        cli.note(f"{client.url} speaks Comfy API v2, which lists no templates or models: "
                 f"choosing from {catalog.source}")
    chosen = generate.plan(args.request, catalog.index, catalog.load_template, catalog.object_info,
                           catalog.models_by_folder, task=args.task, template=args.template, image=image,
                           negative=args.negative, seed=args.seed, size=args.size, steps=args.steps,
                           count=args.count, model=args.model, allow_api=args.allow_api,
                           memory_bytes=catalog.memory_bytes, frontend_version=catalog.frontend)
    cli.note(f"template {chosen.template} ({chosen.title}); model "
             + ", ".join(m["name"] for m in chosen.models[:3]) + (" ..." if len(chosen.models) > 3 else ""))
    for line in chosen.why:
        cli.note(f"  {line}")
    if args.dry_run:
        cli.emit(args, chosen.as_dict(), json.dumps(chosen.workflow, indent=2))
        return 0
    seeds = args.count if args.count > 1 and not any(c.slot == "batch" for c in chosen.changes) else None
    result = pipeline.run(
        chosen.workflow, name=f"template {chosen.template}", url=client.url if online else args.url,
        project=args.project, timeout=args.timeout,
        api_key=args.api_key or os.environ.get("COMFYUI_API_KEY") or None, seeds=seeds, out=args.out,
        wait=not args.no_wait, allow_api=args.allow_api, extra_data=run_cmd.partner_key(args.allow_api),
        reporter=Progress(enabled=not args.quiet and not args.no_wait), api_kind=kind)
    return run_cmd.show(args, result)
