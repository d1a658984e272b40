"""comfyui-skills: drive a ComfyUI server from an agent or a terminal."""

__version__ = "0.1.0"
