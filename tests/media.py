"""Read the videos the Arena writes with ffprobe and ffmpeg, as a player would: one helper for all tests."""

import json
import subprocess
from pathlib import Path

import numpy as np


def probe(video: Path | str) -> dict:
    """Decode every frame with ffprobe: codec, pixel format, size, frame rate and the number of frames."""
    command = ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-print_format", "json"]
    command += ["-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_frames,r_frame_rate", str(video)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)["streams"][0]


def decode_frames(video: Path | str, width: int, height: int, filters: str = "", frames: int = 0) -> np.ndarray:
    """The video's frames as RGB arrays (after ``filters``, e.g. a crop, which sets ``width`` and ``height``),
    all of them or the first ``frames``."""
    command = ["ffmpeg", "-v", "error", "-i", str(video), *(["-vf", filters] if filters else [])]
    command += [*(["-frames:v", str(frames)] if frames else []), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(command, check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width, 3)


def decode_frame(video: Path | str, index: int, width: int, height: int) -> np.ndarray:
    """Frame ``index`` of the video."""
    return decode_frames(video, width, height, filters=f"select=eq(n\\,{index})", frames=1)[0]
