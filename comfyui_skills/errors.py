"""The exceptions every command maps to an exit code.

Each carries the one line a user reads and, where there is one, what to do next.
"""


class ComfyError(Exception):
    """Base of everything this pack raises on purpose."""

    exit_code = 1

    def __init__(self, message, hint=None, **details):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def as_dict(self):
        out = {"error": type(self).__name__, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        out.update({k: v for k, v in self.details.items() if v is not None})
        return out


class CheckFailed(ComfyError):
    """The workflow checked or run failed (invalid workflow, execution error)."""

    exit_code = 1


class InputError(ComfyError):
    """Bad flag, unreadable or malformed file."""

    exit_code = 2


class TransportError(ComfyError):
    """Talking to the server went wrong."""


class ServerUnreachable(TransportError):
    """Nothing accepted a connection: no server there (run.py may export offline instead)."""

    exit_code = 3


class ServerTimeout(TransportError):
    """The server took the request but gave no answer in time: busy or stuck, not absent.

    Never a reason for an offline fallback: the job the user asked for may be running.
    """

    exit_code = 5


class ServerError(TransportError):
    """The server answered, with an error status or a body we cannot read."""

    exit_code = 4

    def __init__(self, message, hint=None, status=None, body=None, **details):
        super().__init__(message, hint, status=status, **details)
        self.status = status
        self.body = body
        self.route = None  # the route that answered so, where the transport knows it


class Interrupted(ComfyError):
    exit_code = 130


class DownloadFailed(ComfyError):
    """A file could not be fetched whole and verified; nothing half-done was left in its folder
    (except a .part file a later run resumes from, when the transfer itself was cut off)."""

    exit_code = 1
