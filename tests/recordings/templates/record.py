"""Record what a real ComfyUI serves for its workflow templates, for the test double.

    .venv/bin/python tests/recordings/templates/record.py http://127.0.0.1:8190

writes tests/recordings/templates/templates.json.gz: {"/route": {"status", "content_type", "body"}}
for the index, a few template files (SD1.5 default, SDXL, Flux, a partner-node one, one with a
subgraph, SD1.5 image-to-image, upscale and inpaint), the custom packs' listing, and the answers for names the server does not have.
Read-only GETs.
"""
import gzip
import json
import sys
from pathlib import Path

import requests

TEMPLATES = ("default", "sdxl_simple_example", "flux_schnell", "api_bfl_flux_pro_t2i",
             "image_qwen_image_edit_2509", "image2image", "esrgan_example", "inpaint_example")
ROUTES = ["/templates/index.json", *(f"/templates/{n}.json" for n in TEMPLATES),
          "/templates/no_such_template.json",  # the static route's answer for a missing file
          "/api/templates/index.json",  # whether the /api prefix reaches the static route
          "/workflow_templates", "/api/workflow_templates",
          "/api/workflow_templates/no_such_pack/no_such.json", "/system_stats"]


def answer(resp):
    out = {"status": resp.status_code, "content_type": resp.headers.get("Content-Type")}
    try:
        out["body"] = resp.json()
    except ValueError:
        out["text"] = resp.text[:2000]
    return out


def main(url):
    session = requests.Session()
    session.trust_env = False
    seen = {route: answer(session.get(url.rstrip("/") + route, timeout=60)) for route in ROUTES}
    out = Path(__file__).with_name("templates.json.gz")
    out.write_bytes(gzip.compress(json.dumps(seen, ensure_ascii=False).encode(), 9, mtime=0))
    for route, a in seen.items():
        print(a["status"], a["content_type"], route)
    print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
