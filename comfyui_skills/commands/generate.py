"""generate.py: one sentence in, files out, on the models this server really has."""

import json

from .. import cli, edits, engine, generate
from ..errors import InputError
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
validates, runs and downloads. Where no official template of the strongest installed family runs,
it builds the pack's own recipe for that family (text-to-image, image-to-image, inpaint, outpaint,
upscale, edit); each file's family is read from its header (inventory.py models FOLDER shows
it). It says which template and model it chose and why. Partner (API) templates spend credits:
only with --allow-api (the Comfy account key comes from $COMFY_API_KEY and goes only into the
prompt's extra_data, never printed). With no server it builds from the snapshot (inventory.py)
and exports the workflow.

""" + cli.wrap("tasks: " + ", ".join(generate.TASKS)) + """

exit codes: 0 done (or exported offline); 1 nothing installed can do it (the best template and the
files it needs are named), or the run failed; 2 bad input; 3 no server and no snapshot;
4 server error; 5 server too slow; 130 Ctrl-C.
"""


def build_parser():
    p = cli.parser("generate.py", "Make an image, video or sound from one sentence with the models installed.",
                   EPILOG)
    cli.add_api_flag(p)
    p.add_argument("request", nargs="?", help="what to make, in words (it becomes the prompt)")
    p.add_argument("--image", metavar="PATH", help="an input image (edit, image-to-image, upscale, image-to-video): "
                   "a path, last (the newest output), last:N (the Nth of the newest command), PROMPT_ID:N")
    p.add_argument("--again", metavar="PROMPT_ID",
                   help="the workflow of an earlier run once more, with the options given changed")
    p.add_argument("--task", choices=list(generate.TASKS), help="what to do (default: read from the request)")
    p.add_argument("--negative", metavar="TEXT", help="what to keep out of it")
    p.add_argument("--count", type=cli.positive_int, default=1, metavar="N", help="how many (a batch, else N prompts)")
    p.add_argument("--size", metavar="WxH", help="width x height (the family's own when not given)")
    p.add_argument("--seed", type=int, help="noise seed (random each run when not given)")
    p.add_argument("--steps", type=cli.positive_int, help="sampler steps (the template's when not given)")
    p.add_argument("--denoise", type=float, metavar="0-1",
                   help="how much of the input image to change (the template's when not given)")
    p.add_argument("--model", metavar="FILE", help="use this installed model file")
    p.add_argument("--template", metavar="NAME", help="use this official template")
    p.add_argument("--allow-api", action="store_true", help="allow partner (API) nodes, which spend credits")
    p.add_argument("--dry-run", action="store_true", help="choose and fill, print it, queue nothing")
    p.add_argument("--out", help="download folder (default: projects/<project>/outputs)")
    p.add_argument("--no-wait", action="store_true", help="print the prompt id and return at once")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    cli.add_edit_flags(p)
    return p


def run(args):
    if args.again:
        return again(args)
    if not args.request:
        raise InputError("say what to make (the request), or give --again PROMPT_ID")
    ref = edits.input_image(args, args.project)
    args.task, args.size, args.seed = edits.edit_defaults(args, ref, args.task)
    reporter = Progress(enabled=not args.quiet and not args.no_wait)
    result = engine.generate(
        cli.settings_from(args), args.request, image=ref.path if ref else None, task=args.task,
        negative=args.negative, seed=args.seed, size=args.size, steps=args.steps, count=args.count,
        model=args.model, template=args.template, allow_api=args.allow_api, dry_run=args.dry_run, out=args.out,
        wait=not args.no_wait, denoise=args.denoise,
        edits=edits.from_args(args, str(ref.path) if ref else None, reporter, args.project), reporter=reporter)
    if result.result is None:
        cli.emit(args, result.as_dict(), json.dumps(result.plan.workflow, indent=2))
        return 0
    return run_cmd.show(args, result.result, result.as_dict())


def again(args):
    """--again PROMPT_ID: that run's workflow, with what this call gives changed (the rest kept)."""
    ref = edits.input_image(args, args.project)
    values = dict(prompt=args.request, negative=args.negative, seed=args.seed, steps=args.steps,
                  denoise=args.denoise, size=args.size, images=[ref.path] if ref else None)
    reporter = Progress(enabled=not args.quiet and not args.no_wait)
    result = engine.run(
        cli.settings_from(args), again=args.again, slots=values, seeds=args.count if args.count > 1 else None,
        out=args.out, wait=not args.no_wait, allow_api=args.allow_api,
        edits=edits.from_args(args, ref and ref.path, reporter, args.project), reporter=reporter)
    return run_cmd.show(args, result)
