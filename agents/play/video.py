"""Encode frames to H.264 once, into both short MPEG-TS segments that can be streamed while the
game goes on and one MP4 for download, that browsers play.

One ffmpeg process (moviepy's, from imageio-ffmpeg) encodes all frames; its tee muxer writes the
MP4 and the segment muxer's pieces from the same encoded stream. Frames are converted to YUV 4:2:0
with OpenCV before they are piped, which is cheaper than ffmpeg's own converter. ffmpeg runs on the
other core while Python plays the next steps.
"""

import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
from moviepy.config import FFMPEG_BINARY

from agents.core.errors import AgentError

# Segment boundaries, in seconds of video: a short first segment so that playback starts at once,
# then longer ones, since a streaming player handles each segment at some cost.
FIRST_SPLITS_S = (0.5, 1.5, 3.5)
SEGMENT_S = 4.0
SEGMENT_LIST = "segments.csv"
FFMPEG_CONTEXT = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\] ")


def split_times(duration_s: float) -> str:
    """Where segments start, after the first, as ffmpeg's comma-separated list of seconds."""
    times = list(FIRST_SPLITS_S)
    while times[-1] < duration_s:
        times.append(times[-1] + SEGMENT_S)
    return ",".join(f"{t:g}" for t in times)


class StreamingEncoder:
    """Feeds frames to ffmpeg; reports each ``.ts`` segment in ``folder`` once ffmpeg has finished it.

    The first segment is short so the first frames can be shown quickly; later ones are longer.
    :meth:`finish` closes the stream and returns the MP4's path.
    """

    def __init__(self, folder: Path, mp4: Path, size: tuple[int, int], fps: float, max_frames: int) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.mp4 = Path(mp4)
        self.segment_list = self.folder / SEGMENT_LIST
        self.reported: list[Path] = []
        width, height = size
        splits = split_times(max_frames / fps)
        segments = (
            f"[f=segment:segment_format=mpegts:segment_times={splits}"
            f":segment_list={self.segment_list}:segment_list_type=csv]{self.folder}/segment_%05d.ts"
        )
        command = [FFMPEG_BINARY, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p"]
        command += ["-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-", "-map", "0:v"]
        command += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-threads", "1"]
        command += ["-pix_fmt", "yuv420p", "-force_key_frames", splits]
        command += ["-f", "tee", f"{segments}|[f=mp4:movflags=+faststart]{self.mp4}"]
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as error:
            raise AgentError(
                f"The video encoder ffmpeg ({FFMPEG_BINARY}) could not be started: {error}. Install ffmpeg "
                "(apt-get install ffmpeg; a Space installs it from packages.txt) and try again."
            ) from None

    def write(self, frame: np.ndarray) -> None:
        """Encode one RGB frame (height x width x 3, both even)."""
        try:
            self.process.stdin.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).data)
        except (BrokenPipeError, ValueError):  # ffmpeg has exited, or its pipe was closed
            raise self._failure("stopped") from None

    def _failure(self, what: str, errors: str | None = None) -> AgentError:
        """ffmpeg's own last words, and what to do: most often, the disk is full."""
        if errors is None:
            self.abort()
            errors = self.process.stderr.read().decode(errors="replace").strip()
        self.mp4.unlink(missing_ok=True)  # half a video: the stream's end never came
        last = errors.splitlines()[-1] if errors else f"exit status {self.process.returncode}"
        last = FFMPEG_CONTEXT.sub("", last)  # "[out#0/tee @ 0x55…] ": ffmpeg's internals, nothing to a visitor
        free = shutil.disk_usage(self.folder).free / 1e6
        if "No space left on device" in last or free < 1:
            return AgentError(
                f"The video could not be written: the disk is full ({last}); nothing of it was kept. On a Space, "
                "try again in a while (old games' files are deleted after a time); on your own machine, free some "
                "space, then try again."
            )
        return AgentError(
            f"The video encoder ffmpeg {what} ({last}). {free:.0f} MB are free where the video is written; "
            "if that is little, free some space, then play again."
        )

    def new_segments(self) -> list[Path]:
        """Segments ffmpeg has finished since the last call, in order."""
        try:
            lines = self.segment_list.read_text().splitlines()
        except FileNotFoundError:
            return []
        done = [self.folder / line.split(",")[0] for line in lines[len(self.reported) :] if line.count(",") >= 2]
        self.reported += done
        return done

    def finish(self) -> Path:
        """Close the stream and wait for ffmpeg to write the last segment and the MP4."""
        _, errors = self.process.communicate()
        if self.process.returncode != 0:
            raise self._failure("failed", errors.decode(errors="replace").strip())
        return self.mp4

    def abort(self) -> None:
        """Stop ffmpeg without waiting for it to finish the files, and delete the MP4, which is not whole."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.mp4.unlink(missing_ok=True)
