"""Readers of a public stream: ``roi`` (the hidden ROI message of every frame) and
``tracks`` (those boxes linked into track ids on the analyst's side, core.roi_tracks)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from forensics_app.core.roi_tracks import LINKER, link_tracks, tracks_of
from forensics_app.core.stego.scan import FrameRois, ScanSummary, read_key_file, scan_video


def _format_row(row: FrameRois) -> str:
    boxes = row.result.message.boxes if row.result.message else ()
    text = " ".join(f"{x},{y},{w},{h}" for x, y, w, h in boxes)
    if row.result.status == "damaged":
        text = row.result.detail
    return f"{row.frame:>7}  {row.result.status:<8} {len(boxes):>3}  {text}".rstrip()


def _roi(args: argparse.Namespace) -> int:
    try:
        return _print_rois(args)
    except BrokenPipeError:  # e.g. `forensics roi V | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _print_rois(args: argparse.Namespace) -> int:
    key = read_key_file(args.key_file) if args.key_file else None
    rows = scan_video(args.video, key)
    summary = ScanSummary()
    out = sys.stdout
    if not args.json:
        out.write(f"{'frame':>7}  {'status':<8} {'n':>3}  rois (x,y,w,h)\n")
    for row in rows:
        summary.add(row)
        if args.json:
            out.write(json.dumps(row.to_json()) + "\n")
        else:
            out.write(_format_row(row) + "\n")
    if not args.json:
        out.write(summary.line() + "\n")
    else:
        print(summary.line(), file=sys.stderr)
    return 0


def _tracks(args: argparse.Namespace) -> int:
    """Print the tracks seen in frames A-B, linked from frame 0 (the GUI lanes' numbers):
    the ids a track-scoped request names (core.roi_tracks.LINKER)."""
    from forensics_app.core.custody.unlock import parse_frames

    key = read_key_file(args.key_file) if args.key_file else None
    first, last = parse_frames(args.frames) if args.frames else (0, None)
    boxes: dict[int, list] = {}
    for row in scan_video(args.video, key):
        if last is not None and row.frame > last:
            break
        if row.result.status == "ok" and row.result.message:
            boxes[row.frame] = list(row.result.message.boxes)
    linked = link_tracks(boxes, start=0, stop=last)
    tracks = tracks_of({f: ids for f, ids in linked.items() if f >= first})
    if args.json:
        for t in tracks:
            faces = [[frame, k] for frame, k in t.faces]
            row = {"track": t.track_id, "first": t.first, "last": t.last, "faces": faces}
            print(json.dumps(row))
        return 0
    print(f"tracks in frames {first}-{last if last is not None else 'end'}, linked from frame 0 "
          f"by {LINKER}: {len(tracks)}")  # fmt: skip
    for t in tracks:
        print(f"track {t.track_id:>3}  frames {t.first}-{t.last}  {t.count} boxes")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``roi`` and ``tracks`` (``deidentify`` lives in commands/deidentify.py)."""
    parser = sub.add_parser(
        "roi",
        help="print the hidden ROI message of every frame",
        description=(
            "Read the steganographic ROI message of every frame. Status per frame: ok (the "
            "message passed its CRC, and its MAC when --key-file is given), none (no message) "
            "or damaged (a message is there but cannot be corrected or authenticated)."
        ),
    )
    parser.add_argument("video", help="the video file (read-only)")
    parser.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line: {"frame": i, "status": ..., "rois": [[x,y,w,h], ...]}',
    )
    parser.add_argument("--key-file", help="camera MAC key (raw bytes) to authenticate messages")
    parser.set_defaults(handler=_roi)

    parser = sub.add_parser(
        "tracks",
        help="list the tracks the analyst side links from the ROI boxes",
        description=(
            "Link the ROI boxes into tracks from frame 0 (overlap of consecutive boxes; the "
            "stream carries no tracker ids) and list those seen in frames A-B. Ids count "
            "from frame 0, as the GUI's lanes: they are the ids "
            "'request --frames A-B --tracks ID' names."
        ),
    )
    parser.add_argument("video", help="the video file (read-only)")
    parser.add_argument("--frames", help="inclusive range A-B (default: the whole video)")
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per track with its (frame, face)s"
    )
    parser.add_argument("--key-file", help="camera MAC key (raw bytes) to authenticate messages")
    parser.set_defaults(handler=_tracks)
