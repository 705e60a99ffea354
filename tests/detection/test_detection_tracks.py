"""Face tracks in video: faces linked over sampled frames, one score per track from the
top half of its frames, and the timestamps that decided it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from detection_data import dataset

from fixtures_media import _encode_frames
from haechi.detection.base import Detection, Heatmap, Region
from haechi.detection.faces import locate_faces
from haechi.detection.settings import DetectionSettings
from haechi.detection.tracks import link, track_detection
from haechi.detection.verdicts import detect_all
from haechi.media import load_media
from haechi.training.faceswap.blend import self_blend
from haechi.training.faceswap.data import list_faces, load_rgb, split


def _face(x: int, y: int, score: float, embedding: list[float] | None = None) -> Region:
    return Region(label="face", box=(x, y, x + 99, y + 99), score=score, embedding=embedding)


def _frame(*faces: Region) -> Detection:
    return Detection(detector="face-swap", version=1, score=max((f.score for f in faces),
                     default=0.0), regions=list(faces), reason="test frame",
                     heatmaps=[Heatmap(region=i, png_base64=f"png-{f.box[0]}-{f.score}")
                               for i, f in enumerate(faces)])


def test_a_moving_face_is_one_track_and_two_people_are_two() -> None:
    # A walks right 60 px a frame; B stands still at the far side.
    frames = [(float(t), _frame(_face(10 + 60 * t, 50, 0.2), _face(600, 40, 0.9)))
              for t in range(5)]
    tracks = link(frames)
    assert len(tracks) == 2
    assert sorted(len(t.sightings) for t in tracks) == [5, 5]
    for track in tracks:
        xs = [s.region.box[0] for s in track.sightings]
        assert xs == sorted(xs) or len(set(xs)) == 1


def test_faces_too_far_apart_or_of_other_people_start_new_tracks() -> None:
    far = link([(0.0, _frame(_face(0, 0, 0.5))), (1.0, _frame(_face(400, 300, 0.5)))])
    assert len(far) == 2
    other = link([(0.0, _frame(_face(0, 0, 0.5, embedding=[0.0] * 128))),
                  (1.0, _frame(_face(5, 0, 0.5, embedding=[0.2] * 128)))])
    assert len(other) == 2  # distance 2.26 >= 0.6: not the same person
    same = link([(0.0, _frame(_face(0, 0, 0.5, embedding=[0.0] * 128))),
                 (1.0, _frame(_face(5, 0, 0.5, embedding=[0.01] * 128)))])
    assert len(same) == 1


def test_track_score_is_the_top_half_mean_and_names_its_frames() -> None:
    scores = [0.1, 0.95, 0.2, 0.9, 0.15, 0.8]  # one face; noisy frames
    frames = [(float(t), _frame(_face(100 + 10 * t, 100, s))) for t, s in enumerate(scores)]
    result = track_detection(frames)
    assert len(result.regions) == 1
    track = result.regions[0]
    assert track.score == pytest.approx(np.mean([0.95, 0.9, 0.8]), abs=1e-4)
    assert track.frames_s == [1.0, 3.0, 5.0]
    assert track.attributes["frames"] == 6 and track.attributes["peak_s"] == 1.0
    assert result.score == track.score
    # The heat map is the best frame's, re-pointed at the track's region.
    assert [(h.region, h.png_base64) for h in result.heatmaps] == [(0, "png-110-0.95")]
    assert "1 face track(s) over 6 sampled frames" in result.reason
    # One spike in an otherwise clean track does not decide it.
    spike = track_detection([(float(t), _frame(_face(100, 100, 0.95 if t == 2 else 0.05)))
                             for t in range(6)])
    assert spike.score < 0.5


def test_no_face_in_any_frame_is_not_assessed() -> None:
    result = track_detection([(0.0, _frame()), (1.0, _frame())])
    assert result.score == 0.0 and not result.regions
    assert "not assessed" in result.reason


def _clip_frames(face: np.ndarray, seconds: int, fps: int, size: tuple[int, int]
                 ) -> Iterator[np.ndarray]:
    width, height = size
    background = np.zeros((height, width, 3), dtype=np.uint8)
    background[:] = np.linspace(60, 140, width, dtype=np.uint8)[None, :, None]
    travel = width - face.shape[1]
    for i in range(seconds * fps):
        frame = background.copy()
        x = round(travel * i / (seconds * fps - 1))
        y = (height - face.shape[0]) // 2
        frame[y:y + face.shape[0], x:x + face.shape[1]] = face
        yield frame


def test_a_moving_blended_face_in_a_video_is_one_track_with_timestamps() -> None:
    _, validation = split(list_faces(dataset("faces-real/utkface-adults")))
    path = next(p for p in validation if locate_faces(load_rgb(p)))
    rgb = load_rgb(path)
    fake, _ = self_blend(rgb, locate_faces(rgb)[0][2], np.random.default_rng(5))
    size = (480, 240)
    data = _encode_frames(_clip_frames(fake, 4, 5, size), fps=5, size=size, codec="libx264",
                          container="mp4", bitrate=None, options={"crf": "18"})
    media = load_media(data, name="moving-face.mp4")
    verdicts = detect_all(DetectionSettings(sexual_detectors=[], face_detectors=[],
                                            synthetic_detectors=["face-swap"]), media)
    assert not verdicts.errors, verdicts.errors
    assert len(verdicts.frames_s) >= 3
    result = next(d for d in verdicts.detections if d.detector == "face-swap")
    assert len(result.regions) == 1, result.regions  # linked, not one track per frame
    track = result.regions[0]
    assert track.attributes["frames"] >= 3
    assert track.frames_s and set(track.frames_s) <= set(verdicts.frames_s)
    assert track.attributes["first_s"] < track.attributes["last_s"]
    assert verdicts.synthetic.score is not None and verdicts.synthetic.score >= track.score
    assert "face track(s)" in result.reason
    assert result.heatmaps and result.heatmaps[0].region == 0
