"""last, last:N and PROMPT_ID:N, read from run records; what an edit keeps of the earlier picture."""

import json

import pytest
from PIL import Image

from comfyui_skills import edits, references
from comfyui_skills.errors import InputError


@pytest.fixture()
def made(tmp_path, monkeypatch):
    """Two commands: one of 3 prompts (a sweep), then one of 1 prompt with 2 files (a batch)."""
    monkeypatch.setenv("COMFYUI_SKILLS_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("COMFYUI_SKILLS_PROJECTS", str(tmp_path / "projects"))
    runs = tmp_path / "state" / "runs"
    runs.mkdir(parents=True)
    files = {}

    def record(pid, command, t, index, names, seed):
        paths = []
        for n in names:
            p = tmp_path / n
            Image.new("RGB", (40, 30)).save(p)
            paths.append(str(p))
        files[pid] = paths
        (runs / f"{pid}.json").write_text(json.dumps({
            "prompt_id": pid, "status": "success", "project": "default", "file": "wf.json",
            "command": {"id": command, "t": t, "index": index}, "settings": {"seed": seed},
            "outputs": [{"kind": "image", "path": p} for p in paths]}))

    # written out of order: the order comes from the command's time and index, not the files
    record("bbbbbbbb-2", "c1", 100.0, 1, ["b.png"], 2)
    record("aaaaaaaa-1", "c1", 100.0, 0, ["a.png"], 1)
    record("cccccccc-3", "c1", 100.0, 2, ["c.png"], 3)
    record("dddddddd-4", "c2", 200.0, 0, ["d1.png", "d2.png"], 4)
    return files


def test_last_n_counts_the_files_of_the_newest_command_in_its_order(made):
    assert references.resolve("last").path == made["dddddddd-4"][1]
    assert references.resolve("last:1").path == made["dddddddd-4"][0]
    assert references.resolve("aaaaaaaa-1:1").path == made["aaaaaaaa-1"][0]
    with pytest.raises(InputError, match="made 2 file\\(s\\); give last:1 to last:2"):
        references.resolve("last:3")
    with pytest.raises(InputError, match="prompt cccccccc-3 made 1 file"):
        references.resolve("cccccccc-3:2")


def test_a_path_leads_back_to_the_run_that_made_it(made):
    ref = references.resolve(made["bbbbbbbb-2"][0])
    assert ref.record["prompt_id"] == "bbbbbbbb-2" and ref.settings == {"seed": 2}


def test_an_edit_keeps_the_size_and_seed_of_the_earlier_picture_but_an_upscale_does_not(made):
    ref = references.resolve("last:2")
    assert edits.edit_values(ref, None, None, None, False, "a watercolour of it") == ("image-to-image", "40x30", 4)
    assert edits.edit_values(ref, None, None, 9, True, "a sky") == ("inpaint", "40x30", 9)
    assert edits.edit_values(ref, None, None, None, False, "upscale this") == ("upscale", None, None)
