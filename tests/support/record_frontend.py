"""Record what one official frontend's "Export (API)" makes of editor templates, as a test fixture.

Serve the frontend to record from a ComfyUI (its own, or another release's static folder with
`--front-end-root`), then:

    PYTHONPATH=. python tests/support/record_frontend.py URL OUT.json.gz TAG=UI_DIR [TAG=UI_DIR ...]

Each template is opened as a dropped file is (`app.loadGraphData`) and exported
(`app.graphToPrompt().output`); OUT holds {"TAG/<file name>": prompt} for every one. The page only
reads from the server (browser.Frontend keeps every write in the browser).
"""

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: support.* imports as under pytest
from support import browser  # noqa: E402


def main(url, out, sources):
    prompts = {}
    with browser.Frontend(url) as page:
        print(f"frontend {page.version()}", file=sys.stderr)
        for source in sources:
            tag, folder = source.split("=", 1)
            for path in sorted(Path(folder).glob("*.json")):
                page.load(json.loads(path.read_text()))
                prompts[f"{tag}/{path.name}"] = page.prompt()
    data = json.dumps(prompts, sort_keys=True, separators=(",", ":")).encode()
    Path(out).write_bytes(gzip.compress(data, 9))
    print(f"{len(prompts)} exports in {out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
