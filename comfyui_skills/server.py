"""The seam between the engine and a server: which class speaks to it.

The engine (pipeline, runs, outputs, uploads, needs) talks to a server object through these
operations, never to routes:

    submit(prompt, client_id, extra_data, on_rejected, prompt_id) -> Submitted
    history(prompt_id), places(client_id), queue()          watching a prompt
    ws_url(client_id)                                        its event stream
    view(filename, subfolder, type_)                         an output's bytes
    upload(what, name, fileobj, ...) -> Stored               an input file
    delete_from_queue(ids), interrupt(prompt_id)             cancelling
    object_info(), system_stats(), models(folder), ...       what it has

`api.ComfyUI` implements them on the server's native routes. A server of another kind (Comfy API
v2, say) adds a class with the same operations and a line in `KINDS`; `config.Settings.kind`
picks it, so nothing else in the engine changes.
"""

from . import config


def _native():
    from .api import ComfyUI  # lazily: offline commands should not pay for importing requests

    return ComfyUI


KINDS = {config.NATIVE: _native}


def open(settings, url, connect_timeout=None):  # noqa: A001 (the seam's one verb)
    """The server at `url`, of the kind `settings` name, with its key (when it is the server the
    key was given for) and timeouts."""
    cls = KINDS[settings.kind]()
    return cls(url, api_key=settings.api_key, timeout=settings.timeout, connect_timeout=connect_timeout)
