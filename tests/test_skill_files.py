"""Every SKILL.md obeys the Agent Skills rules and stays small enough for a model's budget."""

import json
import re

import jsonschema
import pytest
import yaml

from conftest import ROOT

SCHEMA = json.loads((ROOT / "tests" / "agent_skills.schema.json").read_text())
SKILLS = sorted((ROOT / "skills").glob("*/SKILL.md"))
ALL_SKILL_FILES = [ROOT / "SKILL.md", *SKILLS]


def split(path):
    text = path.read_text(encoding="utf-8")
    m = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    assert m, f"{path}: no YAML frontmatter between --- lines at the top"
    return yaml.safe_load(m.group(1)), m.group(2)


def test_the_three_skills_exist():
    assert [p.parent.name for p in SKILLS] == ["comfyui-api", "comfyui-inventory", "comfyui-troubleshooter"]


@pytest.mark.parametrize("path", ALL_SKILL_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_frontmatter_follows_agent_skills_rules(path):
    meta, _ = split(path)
    jsonschema.validate(meta, SCHEMA)


@pytest.mark.parametrize("path", SKILLS, ids=lambda p: p.parent.name)
def test_skill_name_is_its_folder(path):
    meta, _ = split(path)
    assert meta["name"] == path.parent.name


@pytest.mark.parametrize("path", ALL_SKILL_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_body_fits_a_small_budget(path):
    _, body = split(path)
    assert len(body.splitlines()) < 500
    assert len(body.split()) < 2000


@pytest.mark.parametrize("path", ALL_SKILL_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_to_references_resolve(path):
    _, body = split(path)
    for target in re.findall(r"\]\(([^)#\s]+)\)", body):
        if "://" in target:
            continue
        assert (path.parent / target).exists(), f"{path}: link to missing {target}"


def test_schema_rejects_what_hosts_reject():
    for bad in ({"name": "Has-Caps", "description": "x"}, {"name": "a--b", "description": "x"},
                {"name": "ok", "description": "x" * 1025}, {"name": "x" * 65, "description": "x"},
                {"name": "ok"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)
