"""upload.py: put an image, or a mask for one, into ComfyUI's input folder."""

from .. import cli, uploads

EPILOG = """\
examples:
  python scripts/upload.py photo.png
  python scripts/upload.py photo.png --subfolder portraits --json
  python scripts/upload.py photo.png --overwrite
  python scripts/upload.py mask.png --mask --original portraits/photo.png

The name printed is what LoadImage takes ("subfolder/name"). Without --overwrite, a different
file with the same name is stored as "name (1).png"; the same bytes again reuse the name.
A mask's alpha channel is painted onto the original, which must already be on the server.

exit codes: 0 uploaded, 2 missing or non-image file or bad flags, 3 server unreachable,
4 the server refused the upload.
"""


def build_parser():
    p = cli.parser("upload.py", "Upload an image (or a mask with --mask) to ComfyUI's input folder.", EPILOG)
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
    result = uploads.upload(client, args.file, subfolder=args.subfolder, overwrite=args.overwrite,
                            type_=args.type, original=args.original if args.mask else None)
    cli.emit(args, result, f"{result['ref']} ({result['type']})")
    return 0
