"""upload.py: put an image, or a mask for one, into ComfyUI's input folder."""

import json

from .. import cli, config, uploads
from ..errors import InputError, ServerError

EPILOG = """\
examples:
  python scripts/upload.py photo.png
  python scripts/upload.py photo.png --subfolder portraits --json
  python scripts/upload.py photo.png --overwrite
  python scripts/upload.py mask.png --mask --original portraits/photo.png
  python scripts/upload.py photo.png --url 127.0.0.1:8189     Comfy API v2: an asset (hash first)

The name printed is what LoadImage takes ("subfolder/name"). Without --overwrite, a different
file with the same name is stored as "name (1).png"; the same bytes again reuse the name.
A mask's alpha channel is painted onto the original, which must already be on the server.

exit codes: 0 uploaded, 2 missing or non-image file or bad flags, 3 server unreachable,
4 the server refused the upload.
"""


def build_parser():
    p = cli.parser("upload.py", "Upload an image (or a mask with --mask) to ComfyUI's input folder.", EPILOG)
    cli.add_api_flag(p)
    p.add_argument("file", help="image file: PNG, JPEG, WEBP, GIF, BMP or TIFF")
    p.add_argument("--mask", action="store_true", help="upload FILE as the mask of --original")
    p.add_argument("--original", metavar="NAME", help="the image the mask belongs to, as the server names it")
    p.add_argument("--subfolder", default="", help="subfolder of the input folder to store it in")
    p.add_argument("--overwrite", action="store_true", help="replace a file of the same name")
    p.add_argument("--type", choices=uploads.TYPES, default="input", help="input (default) or temp folder")
    return p


def run(args):
    if args.mask != bool(args.original):
        build_parser().error("--mask and --original NAME go together")
    uploads.read_image(args.file)  # refuse a bad file before touching the network
    client = cli.client_from(args)
    kind = config.server_api(args.api, client.url)
    if kind != "v2":
        try:
            result = uploads.upload(client, args.file, subfolder=args.subfolder, overwrite=args.overwrite,
                                    type_=args.type, original=args.original if args.mask else None)
            asset = f", asset {result['asset']['id']}" if result.get("asset", {}).get("id") else ""
            cli.emit(args, result, f"{result['ref']} ({result['type']}{asset})")
            return 0
        except ServerError as exc:
            from ..v2.client import is_v2

            if not (kind == "auto" and exc.status == 404 and is_v2(client.url, client.api_key)):
                raise
    return _upload_v2(args, client)


def _upload_v2(args, client):
    """On Comfy API v2 a file becomes an asset, used in a workflow as its `core/ASSET` reference."""
    from ..v2.client import V2, asset_ref

    if args.mask or args.subfolder or args.type != "input":
        raise InputError("--mask, --subfolder and --type are ComfyUI input-folder options; a Comfy API v2 "
                         "server stores files as assets", hint="upload the file alone")
    asset = V2(client.url, api_key=client.api_key, timeout=client.timeout).upload(args.file)
    result = {"asset_id": asset["id"], "hash": asset.get("hash"), "bytes": asset.get("size_bytes"),
              "reused": asset.get("created_new") is False, "ref": asset_ref(asset)}
    cli.emit(args, result, f"asset {asset['id']}" + (" (already on the server: no bytes sent)" if result["reused"] else "")
             + f"\nin a workflow: {json.dumps(result['ref'])}")
    return 0
