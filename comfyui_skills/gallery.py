"""What a project made: every output file with the settings that made it, newest first.

`entries()` reads the run records (pipeline.remember/settle) of one project; `write_page()` makes
projects/<project>/gallery.html from them: one static page, no server, thumbnails are
the files themselves (linked relative to the page, so page and outputs move together), a text
filter, and each thumbnail a link to the full file. Nothing is copied or shrunk, so a page of a
thousand outputs is written in well under a second.
"""

import html
import json
import os
import time
from pathlib import Path
from urllib.parse import quote

from . import config, files, nextsteps, references

THUMB = 160
SHOWN = ("prompt", "negative", "seed", "model", "loras", "steps", "cfg", "sampler", "scheduler", "width", "height",
         "denoise", "images", "masks")


def entries(project="default", since=None):
    """[{path, kind, prompt_id, status, made_at, server, template, settings, ...}], newest first.

    since: "today", or an ISO date/time; only what was made from then on."""
    start = _since(since)
    out = []
    for rec in references.records(project):
        made = rec.get("finished_at") or rec.get("submitted_at") or ""
        if start and made < start:
            continue
        settings = dict(rec.get("settings") or {})
        filled = rec.get("filled") or {}
        for key in ("mask", "inpaint"):
            if key in filled:
                settings[key] = filled[key]
        for i, o in enumerate(rec.get("outputs") or [], 1):
            if not o.get("path"):
                continue
            out.append({"path": o["path"], "kind": o.get("kind"), "index": i, "prompt_id": rec.get("prompt_id"),
                        "status": rec.get("status"), "made_at": made, "server": rec.get("url"),
                        "template": rec.get("file"), "values": rec.get("values") or {}, "settings": settings,
                        "filled": rec.get("filled") or {},
                        "again": nextsteps.step("run", again=o["path"], finds_server=True)})
    out.reverse()
    return out


def _since(since):
    if not since:
        return None
    if since == "today":
        return time.strftime("%Y-%m-%d")
    return str(since)


def as_json(project="default", since=None):
    items = entries(project, since)
    return {"project": project, "since": _since(since), "count": len(items), "outputs": items}


# -- the page ------------------------------------------------------------------------------------
VIDEO_EXT = (".mp4", ".webm", ".mov", ".mkv", ".m4v")
AUDIO_EXT = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus", ".aac")


def _href(path, page_dir):
    """The file as the page links it: relative when it lies under the page's folder (the page and
    its outputs move together), else a file:// URL. `page_dir` is resolved; records hold
    resolved paths, so no file system call is needed per file."""
    rel = os.path.relpath(path, page_dir)
    if rel.startswith(".."):
        return Path(path).as_uri()
    return "/".join(quote(part) for part in rel.split(os.sep))


def _media(e, href):
    """The thumbnail: the file itself, shown small by the browser (no copy to make or keep)."""
    name, lower = html.escape(Path(e["path"]).name), e["path"].lower()
    if lower.endswith(VIDEO_EXT):
        return f'<video src="{href}" muted loop preload="metadata" title="{name}"></video>'
    if lower.endswith(AUDIO_EXT):
        return f'<audio src="{href}" controls preload="none" title="{name}"></audio>'
    return f'<img src="{href}" alt="{name}" loading="lazy">'


def _settings_html(e):
    s = e["settings"]
    rows = []
    for key in SHOWN + ("mask",):
        if key not in s or s[key] in (None, "", []):
            continue
        value = s[key]
        if key == "loras":
            value = ", ".join(f"{lo.get('name')} @{lo.get('strength')}" for lo in value)
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        elif isinstance(value, float):
            value = f"{value:.4g}"  # 0.8700000000000001 is the template's 0.87
        rows.append(f"<dt>{html.escape(key)}</dt><dd>{html.escape(str(value))}</dd>")
    for key, value in list(e["values"].items()) + list(e["filled"].items()):
        if key not in s and key not in SHOWN:
            rows.append(f"<dt>{html.escape(key)}</dt><dd>{html.escape(str(value))}</dd>")
    rows += [f"<dt>{k}</dt><dd>{html.escape(str(e[v] or ''))}</dd>" for k, v in
             (("template", "template"), ("prompt id", "prompt_id"), ("server", "server"), ("time", "made_at"),
              ("status", "status"))]
    return "<dl>" + "".join(rows) + "</dl>"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font:13px system-ui,sans-serif;margin:12px;background:#111;color:#ddd}}
#q{{width:40em;padding:4px;margin-bottom:10px}}
.grid{{display:flex;flex-wrap:wrap;gap:10px}}
.item{{width:460px;display:flex;gap:8px;background:#1c1c1c;padding:6px;border-radius:4px}}
.item img,.item video{{width:{thumb}px;height:{thumb}px;object-fit:contain;background:#000}}
.item audio{{width:{thumb}px}}
dl{{margin:0;display:grid;grid-template-columns:auto 1fr;gap:1px 6px;font-size:11px;overflow:hidden}}
dt{{color:#888}}dd{{margin:0;word-break:break-word}}
</style></head><body>
<h1>{title}</h1>
<p>{count} outputs, newest first; made {when}. <input id="q" placeholder="filter: prompt, seed, model, LoRA...">
<span id="shown"></span></p>
<div class="grid">
{items}
</div>
<script>
const q=document.getElementById('q'),items=[...document.querySelectorAll('.item')],shown=document.getElementById('shown');
function f(){{const t=q.value.toLowerCase();let n=0;for(const i of items){{const ok=!t||i.dataset.text.includes(t);
i.style.display=ok?'':'none';n+=ok}}shown.textContent=n+' shown'}}
q.addEventListener('input',f);f();
</script></body></html>
"""


def write_page(project="default", out=None):
    """Write projects/<project>/gallery.html; returns (path, number of outputs)."""
    folder = config.projects_dir() / project
    target = Path(out) if out else folder / "gallery.html"
    page_dir = str(target.parent.resolve())
    parts = []
    items = entries(project)
    for e in items:
        href = html.escape(_href(e["path"], page_dir))
        text = " ".join([json.dumps(e["settings"], default=str), e["path"], str(e["prompt_id"]),
                         json.dumps(e["values"], default=str)]).lower()
        media = _media(e, href) if os.path.exists(e["path"]) else \
            f'<div class="gone">{html.escape(Path(e["path"]).name)}: file gone</div>'
        parts.append(f'<div class="item" data-text="{html.escape(text)}"><a href="{href}" '
                     f'title="{html.escape(e["path"])}">{media}</a>{_settings_html(e)}</div>')
    page = PAGE.format(title=html.escape(f"{project}: what was made"), thumb=THUMB,
                       count=len(items), when=time.strftime("%Y-%m-%d %H:%M"), items="\n".join(parts))
    target.parent.mkdir(parents=True, exist_ok=True)
    files.atomic_write(target, page.encode("utf-8"))
    return str(target), len(items)
