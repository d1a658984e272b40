"""Contact sheets of images, animations and sounds."""

import math
import struct
import wave

from PIL import Image

from comfyui_skills import sheets


def test_a_sheet_has_one_labelled_tile_per_file_in_a_square_grid(tmp_path):
    paths = []
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]):
        p = tmp_path / f"{i}.png"
        Image.new("RGB", (512, 256), colour).save(p)
        paths.append(str(p))
    out = sheets.contact_sheet(paths, tmp_path / "sheet.png", ["seed=1", "seed=2", "seed=3", "seed=4", "seed=5"],
                               tile=128)
    with Image.open(out) as im:
        cols = math.ceil(math.sqrt(5))
        assert im.size == (cols * (128 + sheets.GAP) + sheets.GAP, 2 * (128 + sheets.LABEL_H + sheets.GAP) + sheets.GAP)
        x0, y0 = sheets.GAP + 64, sheets.GAP + 64  # first tile's middle: its picture, shrunk
        assert im.getpixel((x0, y0)) == (255, 0, 0)
        assert im.getpixel((sheets.GAP + 2 * (128 + sheets.GAP) + 64, y0)) == (0, 0, 255)


def test_labels_say_what_differs_between_the_files():
    items = [("a", {"seed": 1, "cfg": 7, "prompt": "x"}), ("b", {"seed": 2, "cfg": 7, "prompt": "x"})]
    assert sheets.labels_for(items) == ["seed=1", "seed=2"]
    assert sheets.labels_for([("a", {"seed": 1}), ("b", {"seed": 1})]) == ["#1", "#2"]


def test_an_animation_becomes_a_grid_of_frames_and_a_wav_its_waveform(tmp_path):
    frames = [Image.new("RGB", (64, 64), (i * 60, 0, 0)) for i in range(4)]
    gif = tmp_path / "a.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    tile = sheets.tile_of(gif, 128)
    colours = {tile.getpixel((x, y))[0] for x in (32, 96) for y in (32, 96)}
    assert len(colours) == 4  # four frames, four cells
    wav = tmp_path / "s.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(20000 * math.sin(i / 10))) for i in range(8000)))
    tile = sheets.tile_of(wav, 128)
    assert tile.size == (128, 128) and tile.getbbox() is not None
    assert tile.getpixel((64, 64)) != sheets.BACKGROUND  # the wave crosses the middle
