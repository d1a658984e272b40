"""What a queued workflow will make, in the words a person uses: prompt, seed, model, LoRAs, size...

Read from the graph itself (the slots, and the loaders' file inputs), so the record of a run, the
gallery and `run.py --again` say what really went to the server, whoever filled it in.
"""

from . import models, slots

# slot name -> settings key; sampler_name is shown as "sampler"
SLOT_KEYS = {"prompt": "prompt", "negative": "negative", "seed": "seed", "width": "width", "height": "height",
             "length": "length", "batch": "batch", "steps": "steps", "cfg": "cfg", "denoise": "denoise",
             "sampler_name": "sampler", "scheduler": "scheduler"}
MODEL_FOLDERS = ("checkpoints", "diffusion_models", "unet")


def of(workflow, object_info):
    """{prompt, negative, seed, width, height, steps, cfg, sampler, scheduler, denoise, model, loras,
    images, masks}: only what the graph holds; a value that differs between nodes is a list."""
    out = {}
    try:
        found = slots.find_slots(workflow, object_info)
    except Exception:  # noqa: BLE001 - a graph the slot finder cannot read still gets its files listed
        found = None
    if found is not None:
        for name, key in SLOT_KEYS.items():
            slot = found.get(name)
            if slot is not None and slot.targets:
                out[key] = slot.value
        inputs = found.get("inputs")
        if inputs is not None:
            for t in inputs.targets:
                out.setdefault("masks" if t.kind == "mask" else "images", []).append(t.value)
    model, loras = [], []
    for node in workflow.values():
        if not isinstance(node, dict):
            continue
        cls, ins = node.get("class_type"), node.get("inputs") or {}
        for name, value in ins.items():
            if not isinstance(value, str):
                continue
            folder = models.folder_for(cls, name)
            if folder in MODEL_FOLDERS and value not in model:
                model.append(value)
            elif folder == "loras":
                lora = {"name": value, "strength": ins.get("strength_model")}
                if "strength_clip" in ins:
                    lora["clip_strength"] = ins.get("strength_clip")
                loras.append(lora)
    if model:
        out["model"] = model[0] if len(model) == 1 else model
    if loras:
        out["loras"] = loras
    return out
