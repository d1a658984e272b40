"""Where official frontends export differently, the conversion follows the version asked for."""

import json
import subprocess
import sys

import pytest
from conftest import CONFORMANCE, ROOT

from comfyui_skills import conversion
from comfyui_skills.errors import InputError

OBJECT_INFO = json.loads((CONFORMANCE / "object_info" / "comfyui-0.3.64-bare.json").read_text())


def one_node(node_type, properties, widgets_values=None):
    return {"nodes": [{"id": 1, "type": node_type, "mode": 0, "inputs": [], "outputs": [],
                       "properties": properties, "widgets_values": widgets_values or []}], "links": []}


def test_newest_frontend_copies_the_node_pack_into_meta_and_1_27_does_not():
    wf = one_node("ImageBlend", {"cnr_id": "comfy-core", "ver": "v0.3.64", "aux_id": "someone/pack"},
                  [0.5, "normal"])
    newest = conversion.ui_to_api(wf, OBJECT_INFO)["1"]["_meta"]
    old = conversion.ui_to_api(wf, OBJECT_INFO, frontend_version="1.27.10")["1"]["_meta"]
    # the leading "v" goes, as the frontend's schema strips it; the titles come from each locale
    assert newest == {"title": "Blend Images", "cnr_id": "comfy-core", "ver": "0.3.64", "aux_id": "someone/pack"}
    assert old == {"title": "Image Blend"}


@pytest.mark.parametrize("properties", [{"cnr_id": "-bad-"}, {"ver": "latest"}, {"aux_id": "no-slash"},
                                        {"cnr_id": 7}])
def test_pack_fields_the_frontend_schema_refuses_are_left_out(properties):
    meta = conversion.ui_to_api(one_node("ImageBlend", properties), OBJECT_INFO)["1"]["_meta"]
    assert meta == {"title": "Blend Images"}


def test_a_version_that_is_not_one_is_refused():
    with pytest.raises(InputError, match="not a version"):
        conversion.ui_to_api(one_node("ImageBlend", {}), OBJECT_INFO, frontend_version="latest")


def test_convert_follows_the_frontend_flag_and_refuses_a_bad_one(tmp_path):
    src = tmp_path / "wf.json"
    src.write_text(json.dumps(one_node("ImageBlend", {"cnr_id": "comfy-core", "ver": "0.3.64"})))
    base = [sys.executable, str(ROOT / "scripts" / "convert.py"), str(src), "--object-info",
            str(CONFORMANCE / "object_info" / "comfyui-0.3.64-bare.json")]
    old = subprocess.run(base + ["--frontend", "1.27.10"], capture_output=True, text=True)
    new = subprocess.run(base, capture_output=True, text=True)
    assert json.loads(old.stdout)["1"]["_meta"] == {"title": "Image Blend"}
    assert json.loads(new.stdout)["1"]["_meta"]["cnr_id"] == "comfy-core"
    bad = subprocess.run(base + ["--frontend", "newest"], capture_output=True, text=True)
    assert bad.returncode == 2 and "frontend version 'newest'" in bad.stderr and "Traceback" not in bad.stderr


def test_the_servers_pinned_frontend_is_read_from_its_system_stats():
    assert conversion.frontend_served_by({"system": {"required_frontend_version": "1.27.10"}}) == "1.27.10"
    assert conversion.frontend_served_by({"system": {}}) is None
    assert conversion.frontend_served_by(None) is None
