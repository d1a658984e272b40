"""Small, valid model files for download tests: a real safetensors layout, any size."""

import json


def safetensors_bytes(size, seed=0):
    """A safetensors file of exactly `size` bytes: one U8 tensor of patterned bytes."""
    header_len = 200
    data_len = size - 8 - header_len
    header = json.dumps({"t": {"dtype": "U8", "shape": [data_len], "data_offsets": [0, data_len]}})
    header = header.encode().ljust(header_len, b" ")
    pattern = bytes((i * 131 + seed) % 251 for i in range(4096))
    body = pattern * (data_len // len(pattern) + 1)
    return len(header).to_bytes(8, "little") + header + body[:data_len]
