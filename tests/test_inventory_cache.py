"""The snapshot's fast form (state/inventory.cache): what a load gives is always what
state/inventory.json holds now, whatever the cache says."""

import json

import pytest

from conftest import script
from comfyui_skills import inventory
from comfyui_skills.errors import InputError


def snapshot_record(**changes):
    return inventory.read_file(inventory.BUNDLED_PATH) | {"kind": "snapshot", "url": "http://127.0.0.1:8188"} | changes


@pytest.fixture
def state(pack_env, tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    return folder


def write_snapshot(state, record):
    (state / "inventory.json").write_text(json.dumps(record), encoding="utf-8")


def test_a_second_load_reads_the_cache_and_gives_the_same_inventory(state):
    write_snapshot(state, snapshot_record())
    first = inventory.load()
    assert (state / "inventory.cache").is_file()
    second = inventory.load()
    assert second.object_info == first.object_info and second.record == first.record
    assert (second.source, second.kind, second.comfyui_version) == (first.source, first.kind, first.comfyui_version)


def test_a_changed_snapshot_of_the_same_size_is_read_anew(state):
    write_snapshot(state, snapshot_record(url="http://127.0.0.1:8188"))
    inventory.load()
    write_snapshot(state, snapshot_record(url="http://127.0.0.1:8189"))  # same length, other bytes
    assert inventory.load().url == "http://127.0.0.1:8189"


def test_a_snapshot_broken_after_it_was_cached_is_refused_as_before(state):
    good = snapshot_record()
    write_snapshot(state, good)
    inventory.load()
    good["object_info"]["KSampler"]["input"] = {"required": 5}
    write_snapshot(state, good)
    with pytest.raises(InputError, match="'KSampler' is malformed"):
        inventory.load()


@pytest.mark.parametrize("damage", [lambda b: b[:len(b) // 2], lambda b: b[:200] + b"\x00" * 64 + b[264:], lambda b: b""])
def test_a_damaged_cache_is_passed_over(state, damage):
    write_snapshot(state, snapshot_record())
    expected = inventory.load().object_info
    cache = state / "inventory.cache"
    cache.write_bytes(damage(cache.read_bytes()))
    assert inventory.load().object_info == expected


def test_validate_reads_a_cached_snapshot_like_the_json(state, pack_env, tmp_path):
    write_snapshot(state, snapshot_record())
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps({"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1,
                                                                          "color": 0}},
                              "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
                              "3": {"class_type": "NoSuchNode", "inputs": {}}}))
    first, second = (script("validate", wf, "--json", env=pack_env) for _ in range(2))
    assert (state / "inventory.cache").is_file()
    assert (first.returncode, first.stdout) == (second.returncode, second.stdout) == (1, first.stdout)
    assert "NoSuchNode" in first.stdout
