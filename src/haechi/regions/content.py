"""The content box: the picture once borders, letterbox, caption bars and interface
chrome around it are trimmed.

A bar is a run of rows (or columns) at an edge where most pixels share one colour:
uniform borders, letterbox and pillarbox, a caption strip with text on it, a phone's
status and app bars. Trimming them on both sides (bank and upload) puts the picture in
the same frame again, whatever was added around it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]

#: Work on a copy this size: bars are large structures, and it keeps trimming cheap.
_WORK_SIDE = 256
#: A line is a bar line when this share of its pixels lies near its median colour.
_BAR_SHARE = 0.95
_COLOUR_TOLERANCE = 28
#: Never trim more than this share of either dimension from one side.
_MAX_TRIM = 0.7
#: The box keeps at least this share of each dimension (per pass), else nothing is trimmed.
_MIN_LEFT = 0.2
_PASSES = 4
_SAMPLE = 3
#: Colour change (0-255) allowed inside one bar, and the step that marks a bar's edge.
_RUN_DRIFT = 10
_EDGE_STEP = 24
#: Share of a text line (inside a caption bar) still in the bar's colour.
_TEXT_SHARE = 0.45
_SOLID_SHARE = 0.97
#: Text inside a caption bar spans at most this share of the lines.
_MAX_TEXT = 0.2
#: A trimmed edge must hold at least this many lines (on the work copy) to count.
_MIN_BAR = 2


def _line_stats(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``(n, m, 3)`` lines: each line's mean colour and whether it is a bar line.

    The mean stands in for the dominant colour: a bar line has 95 % of its pixels within
    the tolerance of it, so a few pixels of text move it little (and it costs a tenth
    of a median).
    """
    median = lines.mean(axis=1)
    # Whole colour values, as the lines hold; the channel maximum taken pairwise (a
    # reduction over a trailing axis of 3 costs twice as much).
    diff = np.abs(lines - median.astype(np.int16).astype(lines.dtype)[:, None, :])
    near = np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2])
    share = np.count_nonzero(near <= _COLOUR_TOLERANCE, axis=1) / lines.shape[1]
    return median, np.asarray(share >= _BAR_SHARE)


def _share_near(line: np.ndarray, colour: np.ndarray) -> float:
    diff = np.abs(line - colour[None, :])
    near = np.maximum(np.maximum(diff[:, 0], diff[:, 1]), diff[:, 2]) <= _COLOUR_TOLERANCE
    return np.count_nonzero(near) / max(1, len(line))


def _trim(lines: np.ndarray, median: np.ndarray, flags: np.ndarray) -> int:
    """How many leading lines belong to bars.

    A bar is a run of bar lines of one colour. It counts only if it ends at an edge (the
    next line is not a bar line, or has a clearly different colour): a smooth gradient
    or a plain sky is a run of bar lines whose colour drifts, and is kept.
    """
    limit = int(len(flags) * _MAX_TRIM)
    n = len(flags)

    def differs(a: int, b: int, by: float) -> bool:
        return bool(np.abs(median[a] - median[b]).max() > by)

    trimmed = 0
    start = 0
    while start < limit and flags[start]:
        # Only a solid bar (a caption's margin) may go on through lines of text, and
        # only for as many lines as a caption's text is tall; the bar ends on its last
        # solid line (a bright sky after a white bar is text-like, never solid).
        solid = _share_near(lines[start], median[start]) >= _SOLID_SHARE
        max_text = max(1, int(n * _MAX_TEXT))
        end = i = start
        text_run = 0
        while i + 1 < n:
            i += 1
            if flags[i] and not differs(i, start, _RUN_DRIFT):
                end, text_run = i, 0
            elif (solid and text_run < max_text
                  and _share_near(lines[i], median[start]) >= _TEXT_SHARE):
                text_run += 1
            else:
                break
        nxt = end + 1
        if nxt >= limit:
            break
        # Resampling blends the bar's last line with what follows: look one line on.
        ahead = nxt + 1 if nxt + 1 < n else nxt
        sharp = (not flags[nxt] or differs(nxt, end, _EDGE_STEP)
                 or not flags[ahead] or differs(ahead, end, _EDGE_STEP))
        if not sharp:
            break
        trimmed = nxt
        if flags[nxt] and ahead != nxt and differs(nxt, ahead, _RUN_DRIFT):
            trimmed, nxt = ahead, ahead  # the blended line belongs to the border
        start = nxt
    return trimmed if trimmed >= _MIN_BAR else 0


def may_have_bars(rgb: np.ndarray) -> bool:
    """Whether any outermost row or column of ``rgb`` looks like a bar line: the cheap
    test (a few microseconds) that says whether :func:`content_box` is worth its cost."""
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        return False
    # Top and bottom rows together, then the outer columns: two small calls, not four.
    rows = rgb[[0, -1], ::_SAMPLE].astype(np.float32)
    if _line_stats(rows)[1].any():
        return True
    cols = rgb[::_SAMPLE, [0, -1]].transpose(1, 0, 2).astype(np.float32)
    return bool(_line_stats(cols)[1].any())


def content_box(rgb: np.ndarray) -> Box:
    """``(x0, y0, x1, y1)`` of the picture in ``rgb``'s pixel coordinates (x1, y1 exclusive).

    Trimming is repeated on what is left until nothing more goes, so that bands of the
    picture's own edges are trimmed alike whether or not bars were added around them.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, _WORK_SIDE / max(h, w))
    small = rgb if scale == 1.0 else np.asarray(Image.fromarray(rgb).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX))
    return refine(rgb, content_box_small(small), small.shape[1], small.shape[0])


def refine(rgb: np.ndarray, box: Box, sw: int, sh: int) -> Box:
    """Scale a box found on the ``sw`` x ``sh`` work copy to ``rgb`` and settle each
    trimmed edge on the exact line where the bar ends (a work-copy pixel spans several
    image pixels, and window hashes notice a shift of 1 %)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    fx, fy = w / sw, h / sh
    out = [round(x0 * fx), round(y0 * fy), min(w, round(x1 * fx)), min(h, round(y1 * fy))]
    if fx == 1.0 and fy == 1.0:
        return out[0], out[1], out[2], out[3]
    cols = rgb.transpose(1, 0, 2)
    if x0 > 0:
        out[0] = _edge(cols, out[0], fx, inward=1)
    if x1 < sw:
        out[2] = _edge(cols, out[2], fx, inward=-1)
    if y0 > 0:
        out[1] = _edge(rgb, out[1], fy, inward=1)
    if y1 < sh:
        out[3] = _edge(rgb, out[3], fy, inward=-1)
    return out[0], out[1], out[2], out[3]


def _edge(lines: np.ndarray, guess: int, factor: float, *, inward: int) -> int:
    """The first line (going ``inward``) near ``guess`` that is not in the bar's colour;
    returned as a box coordinate (exclusive end when going outward)."""
    n = len(lines)
    reach = int(np.ceil(1.5 * factor)) + 1
    # A line surely inside the bar, just outside the search band.
    bar_line = guess - inward * (reach + 1) - (1 if inward < 0 else 0)
    if not 0 <= bar_line < n:
        return guess
    colour = lines[bar_line, ::_SAMPLE].astype(np.float32).mean(axis=0)
    first = guess - inward * reach - (1 if inward < 0 else 0)
    for step in range(2 * reach + 1):
        i = first + inward * step
        if not 0 <= i < n:
            break
        if _share_near(lines[i, ::_SAMPLE].astype(np.float32), colour) < 0.5:
            return i if inward > 0 else i + 1
    return guess


def content_box_small(small: np.ndarray) -> Box:
    """:func:`content_box` of an image already reduced to the work size."""
    x0, y0, x1, y1 = 0, 0, small.shape[1], small.shape[0]
    for _ in range(_PASSES):
        bx0, by0, bx1, by1 = _trim_once(small[y0:y1, x0:x1])
        if (bx0, by0, bx1, by1) == (0, 0, x1 - x0, y1 - y0):
            break
        x0, y0, x1, y1 = x0 + bx0, y0 + by0, x0 + bx1, y0 + by1
    return x0, y0, x1, y1


def _trim_once(small: np.ndarray) -> Box:
    sh, sw = small.shape[:2]
    # Colours are judged on every 3rd pixel of a line: as good for bars, 3 times cheaper;
    # positions keep the work copy's full resolution.
    # Rows first, then columns of what is left, so a caption under a pillarboxed picture
    # does not stop the side bars from being seen.
    lines = small[:, ::_SAMPLE].astype(np.float32)
    med, rows = _line_stats(lines)
    top = _trim(lines, med, rows)
    bottom = _trim(lines[::-1], med[::-1], rows[::-1])
    inner = small[top:sh - bottom] if sh - bottom - top > 0 else small
    lines = inner[::_SAMPLE].transpose(1, 0, 2).astype(np.float32)
    med, cols = _line_stats(lines)
    left = _trim(lines, med, cols)
    right = _trim(lines[::-1], med[::-1], cols[::-1])
    if sw - left - right < sw * _MIN_LEFT or sh - top - bottom < sh * _MIN_LEFT:
        return 0, 0, sw, sh
    return left, top, sw - right, sh - bottom
