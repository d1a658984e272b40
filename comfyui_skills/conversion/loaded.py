"""What newer frontends change in a workflow while they load it, before anything is exported.

- From 1.42, node ids become unique across the root graph and every subgraph definition: an inner node whose
  id is already taken (by a root node, or a node of an earlier definition) gets the next free id
  after the graph's counter, and the definition's links and the instances' promoted-widget lists
  follow it (src/lib/litegraph/src/subgraph/subgraphDeduplication.ts,
  normalizeSubgraphDefinitions). Definitions nested in a definition's own `definitions` are read
  as top-level ones.
- From 1.47, legacy group nodes become subgraphs (group_nodes.migrate).

Older frontends (1.27.10 was recorded) do neither; their exports follow the file as it is.
"""

import copy

from .group_nodes import migrate


def as_loaded(workflow, schema, frontend):
    """The workflow as `frontend` holds it once loaded (a copy when anything changed)."""
    if frontend.unique_ids:
        workflow = unique_node_ids(workflow)
    return migrate(workflow, schema) if frontend.groups_as_subgraphs else workflow


def unique_node_ids(workflow):
    definitions = workflow.get("definitions") if isinstance(workflow.get("definitions"), dict) else {}
    top = definitions.get("subgraphs") if isinstance(definitions.get("subgraphs"), list) else []
    if not top:
        return workflow
    out = copy.deepcopy(workflow)
    subgraphs = flatten(out["definitions"]["subgraphs"])
    out["definitions"]["subgraphs"] = subgraphs
    used_keys = {key(n.get("id")) for n in out.get("nodes") or [] if isinstance(n, dict)}
    used = {i for i in map(number, used_keys) if i is not None}
    last = workflow.get("last_node_id")
    state = [last if isinstance(last, int) and not isinstance(last, bool) and last >= 0 else 0]
    remaps = {}
    for sub in subgraphs:
        remap = {}
        for node in sub.get("nodes") or []:
            if not isinstance(node, dict):
                continue
            k = key(node.get("id"))
            if k in used_keys:
                new = state[0] + 1
                while new in used:
                    new += 1
                state[0] = new
                remap[k] = new
                node["id"] = new
                used.add(new)
                used_keys.add(str(new))
            else:
                used_keys.add(k)
                if number(k) is not None:
                    used.add(number(k))
                    state[0] = max(state[0], number(k))
        if remap:
            remaps[sub.get("id")] = remap
            for link in sub.get("links") or []:
                relink(link, remap)
            for widget in sub.get("widgets") or []:
                if isinstance(widget, dict) and key(widget.get("id")) in remap:
                    widget["id"] = remap[key(widget["id"])]
    for node in [n for g in [out] + subgraphs for n in g.get("nodes") or [] if isinstance(n, dict)]:
        remap = remaps.get(node.get("type"))
        proxies = (node.get("properties") or {}).get("proxyWidgets") if remap else None
        for entry in proxies if isinstance(proxies, list) else []:
            if isinstance(entry, list) and entry and key(entry[0]) in remap:
                entry[0] = str(remap[key(entry[0])])
    return out


def flatten(subgraphs):
    out = []
    for sub in subgraphs:
        if not isinstance(sub, dict):
            continue
        out.append(sub)
        nested = (sub.get("definitions") or {}).get("subgraphs") if isinstance(sub.get("definitions"), dict) else None
        if isinstance(nested, list) and nested:
            out += flatten(nested)
            sub["definitions"]["subgraphs"] = None
    return out


def relink(link, remap):
    if isinstance(link, dict):
        for end in ("origin_id", "target_id"):
            if key(link.get(end)) in remap:
                link[end] = remap[key(link[end])]
    elif isinstance(link, list) and len(link) >= 4:
        for at in (1, 3):
            if key(link[at]) in remap:
                link[at] = remap[key(link[at])]


def key(node_id):
    return str(node_id)


def number(text):
    """The id as an integer when it is one written plainly ("7", not "7.0" or "a")."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None
    return value if str(value) == text else None
