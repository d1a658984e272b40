"""The pack's own recipes: a family table (table.py), graph builders (build.py), choosing the
installed files (choose.py), what a template's graph does (graph_task.py), prompting guides
(guide.py)."""
