"""Video probing and frame sampling with PyAV (FFmpeg), bounded by :class:`Limits`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from haechi.errors import MediaError
from haechi.media.limits import Limits


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration_s: float | None
    frame_rate: float | None


@dataclass(frozen=True)
class Frame:
    number: int
    timestamp: float
    rgb: np.ndarray


def _open(data: bytes) -> av.container.InputContainer:
    try:
        return av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise MediaError(f"the video could not be opened: {exc}", code="corrupt_media") from exc
    except (OSError, ValueError) as exc:
        raise MediaError(f"the video could not be opened: {exc}", code="corrupt_media") from exc


def probe(data: bytes, limits: Limits) -> VideoInfo:
    container = _open(data)
    try:
        if not container.streams.video:
            raise MediaError("the file has no video stream", code="corrupt_media")
        stream = container.streams.video[0]
        width = int(stream.codec_context.width or 0)
        height = int(stream.codec_context.height or 0)
        if width <= 0 or height <= 0:
            raise MediaError("the video stream declares no frame size", code="corrupt_media")
        if width * height > limits.max_video_pixels_per_frame:
            raise MediaError(
                f"video frames of {width}x{height} exceed the limit of "
                f"{limits.max_video_pixels_per_frame} pixels",
                code="too_many_pixels",
            )
        duration: float | None = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        if duration is not None and duration > limits.max_video_seconds:
            raise MediaError(
                f"the video lasts {duration:.0f} s; the limit is {limits.max_video_seconds:.0f} s",
                code="too_long",
            )
        rate = float(stream.average_rate) if stream.average_rate else None
        return VideoInfo(width, height, duration, rate)
    finally:
        container.close()


def sample_frames(data: bytes, limits: Limits, *, expected_s: float | None = None,
                  warnings: list[str] | None = None) -> Iterator[Frame]:
    """Yield one decoded frame every ``limits.video_seconds_per_hash`` seconds.

    A stream that ends well before its declared duration (a cut file) still yields what
    it holds, and says so in ``warnings``.

    All frames are decoded (inter-coded frames need their predecessors) but only sampled
    ones are converted to RGB, which is where most of the cost would be.
    """
    container = _open(data)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = limits.video_seconds_per_hash
        next_t = 0.0
        decoded = 0
        last_time = -1.0
        for packet in container.demux(stream):
            for frame in packet.decode():
                decoded += 1
                if decoded > limits.max_video_frames:
                    raise MediaError(
                        f"the video has more than {limits.max_video_frames} frames",
                        code="too_many_frames",
                    )
                t = float(frame.time) if frame.time is not None else last_time + 1e-3
                last_time = t
                if t > limits.max_video_seconds:
                    raise MediaError(
                        f"the video runs past {limits.max_video_seconds:.0f} s", code="too_long"
                    )
                if t + 1e-6 < next_t:
                    continue
                while next_t <= t + 1e-6:
                    next_t += step
                yield Frame(decoded - 1, max(t, 0.0), frame.to_ndarray(format="rgb24"))
        if decoded == 0:
            raise MediaError("the video has no decodable frames", code="corrupt_media")
        step_s = limits.video_seconds_per_hash
        if (expected_s is not None and warnings is not None
                and last_time + max(1.0, step_s) < expected_s * 0.9):
            warnings.append(f"truncated: frames end at {last_time:.1f} s of a declared "
                            f"{expected_s:.1f} s")
    except av.FFmpegError as exc:
        raise MediaError(f"the video could not be decoded: {exc}", code="corrupt_media") from exc
    finally:
        container.close()
