"""core.face_geometry: the one crop/paste of a head box that the producer and the reveal share,
and its agreement with the training channel's resize (uunet.channel.resize_through_box)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from forensics_app.core.face_geometry import (
    DECODER_GROW,
    ENCODER_GROW,
    FACE_SIZE,
    crop_face,
    face_size,
    paste_face,
)
from forensics_app.errors import InputError
from forensics_app.uunet.channel import resize_through_box
from forensics_app.uunet.inference import DEFAULT_MODELS


def _smooth_face(seed: int = 0) -> np.ndarray:
    """A 64×64 BGR image with face-like (blurred, high-contrast) content."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (FACE_SIZE, FACE_SIZE, 3), dtype=np.uint8).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 1.5)
    return np.clip((blurred - blurred.mean()) * 6 + 128, 0, 255).astype(np.uint8)


def _smooth_frame(width: int = 97, height: int = 71) -> np.ndarray:
    """A frame of smooth gradients, so resizing it loses little."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frame = np.stack([xx * 2, yy * 3, (xx + yy) * 1.5], axis=-1)
    return np.clip(frame, 0, 255).astype(np.uint8)


def test_face_size_comes_from_the_card_or_defaults_to_64() -> None:
    assert FACE_SIZE == 64
    assert face_size(None) == face_size({}) == 64
    assert face_size({"architecture": {"name": "unet_decoder"}}) == 64
    assert face_size({"architecture": {"input_size": 96}}) == 96
    for bad in (0, -3, 64.0, "64", True):
        with pytest.raises(InputError):
            face_size({"architecture": {"input_size": bad}})


@pytest.mark.parametrize("name", ["ue.json", "ud.json"])
def test_shipped_cards_run_at_64(name: str) -> None:
    card = json.loads((DEFAULT_MODELS / name).read_text(encoding="utf-8"))
    assert face_size(card) == FACE_SIZE


@pytest.mark.parametrize("w, h", [(13, 17), (1, 1), (63, 65), (64, 64), (97 - 5, 71 - 3), (9, 50)])
def test_crop_then_paste_round_trip_at_odd_sizes(w: int, h: int) -> None:
    frame = _smooth_frame()
    box = (5 if w < 90 else 0, 3 if h < 68 else 0, w, h)
    face = crop_face(frame, box)
    assert face.shape == (FACE_SIZE, FACE_SIZE, 3) and face.dtype == np.uint8
    out = np.zeros_like(frame)
    pixels = paste_face(out, box, face)
    x, y = box[:2]
    assert pixels.shape == (h, w, 3)
    assert np.array_equal(out[y : y + h, x : x + w], pixels)
    assert not out[:y].any() and not out[:, :x].any()  # nothing written outside the box
    error = np.abs(pixels.astype(int) - frame[y : y + h, x : x + w].astype(int))
    assert error.mean() < 2.0 and error.max() <= 12


def test_boxes_at_the_frame_edge() -> None:
    frame = _smooth_frame()
    height, width = frame.shape[:2]
    for box in [(0, 0, 10, 12), (width - 10, height - 12, 10, 12), (0, height - 1, width, 1)]:
        face = crop_face(frame, box)
        assert face.shape == (FACE_SIZE, FACE_SIZE, 3)
        paste_face(frame.copy(), box, face)
    for outside in [(-1, 0, 10, 10), (0, -2, 10, 10), (width - 9, 0, 10, 10), (0, height, 4, 1)]:
        with pytest.raises(InputError, match="outside"):
            crop_face(frame, outside)
        with pytest.raises(InputError, match="outside"):
            paste_face(frame, outside, np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(InputError, match="positive size"):
        crop_face(frame, (3, 3, 0, 5))


def test_a_one_pixel_box() -> None:
    frame = _smooth_frame()
    face = crop_face(frame, (7, 9, 1, 1))
    assert (face == frame[9, 7]).all()  # one pixel grows to a flat face
    out = frame.copy()
    pasted = paste_face(out, (7, 9, 1, 1), _smooth_face())
    mean = _smooth_face().reshape(-1, 3).mean(axis=0)
    assert pasted.shape == (1, 1, 3)
    assert np.abs(pasted[0, 0].astype(float) - mean).max() <= 1.0  # area: the face's mean
    assert np.array_equal(np.delete(out.reshape(-1, 3), 9 * out.shape[1] + 7, axis=0),
                          np.delete(frame.reshape(-1, 3), 9 * frame.shape[1] + 7, axis=0))  # fmt: skip


def test_a_box_bigger_than_the_face_is_shrunk_by_area_and_grown_bilinear() -> None:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    box = (10, 20, 150, 130)
    crop = frame[20:150, 10:160]
    face = crop_face(frame, box)
    assert np.array_equal(face, cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA))
    out = frame.copy()
    pasted = paste_face(out, box, face)
    assert np.array_equal(pasted, cv2.resize(face, (150, 130), interpolation=cv2.INTER_LINEAR))
    # a box larger on one side only still grows bilinear (no side is shrunk by area then)
    wide = crop_face(frame, (0, 0, 100, 40))
    expected = cv2.resize(frame[0:40, 0:100], (64, 64), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(wide, expected)


def test_the_encoder_crop_grows_bicubic_and_the_decoder_crop_bilinear() -> None:
    """U_e's x is grown bicubic (measured better), U_d's input bilinear (the channel's)."""
    assert (DECODER_GROW, ENCODER_GROW) == (cv2.INTER_LINEAR, cv2.INTER_CUBIC)
    frame = np.random.default_rng(2).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    crop = frame[4:21, 6:19]
    for grow in (ENCODER_GROW, DECODER_GROW):
        expected = cv2.resize(crop, (64, 64), interpolation=grow)
        assert np.array_equal(crop_face(frame, (6, 4, 13, 17), grow=grow), expected)
    assert np.array_equal(
        crop_face(frame, (6, 4, 13, 17)), crop_face(frame, (6, 4, 13, 17), 64, DECODER_GROW)
    )
    # shrinking is area whatever ``grow`` says
    big = frame[0:40, 0:50]
    assert np.array_equal(crop_face(frame, (0, 0, 50, 40), 32, ENCODER_GROW),
                          cv2.resize(big, (32, 32), interpolation=cv2.INTER_AREA))  # fmt: skip


def test_paste_refuses_a_face_of_the_wrong_depth() -> None:
    with pytest.raises(InputError, match="does not fit"):
        paste_face(np.zeros((20, 20, 3), np.uint8), (0, 0, 5, 5), np.zeros((64, 64), np.uint8))


@pytest.mark.parametrize("w, h", [(32, 32), (16, 16), (24, 20), (13, 17), (10, 10), (48, 40)])
def test_deployment_resizes_as_the_training_channel(w: int, h: int) -> None:
    """Producer paste (64 → box) then reveal crop (box → 64) ≈ the channel's area/bilinear.

    At whole-number factors they agree to rounding; elsewhere torch's ``area`` (integer
    windows) and OpenCV's (fractional weights) differ a little, but the path stays far
    closer to the channel than the bicubic crop the producer used before."""
    face = _smooth_face()
    frame = np.zeros((80, 90, 3), np.uint8)
    box = (5, 7, w, h)
    paste_face(frame, box, face)
    deployed = crop_face(frame, box).astype(np.float32)
    tensor = torch.from_numpy(face.astype(np.float32)).permute(2, 0, 1)[None]
    channel = resize_through_box(tensor, w, h)[0].permute(1, 2, 0).numpy()
    bicubic = cv2.resize(frame[7 : 7 + h, 5 : 5 + w], (64, 64), interpolation=cv2.INTER_CUBIC)
    error = np.abs(deployed - channel).mean()
    if 64 % w == 0 and 64 % h == 0:
        assert np.abs(deployed - channel).max() <= 1.5
    else:
        assert error < 6.0
    assert error < 0.6 * np.abs(bicubic.astype(np.float32) - channel).mean()


def test_the_training_importers_crop_through_the_same_module() -> None:
    """bootstrap.square_crop and adapters.head_crop: as before (bilinear up, area down)."""
    from forensics_app.uunet.adapters import head_crop
    from forensics_app.uunet.bootstrap import square_crop

    frame = np.random.default_rng(3).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    small = square_crop(frame, 20, 30, 16, 20)  # the 20-px square around the box
    expected = cv2.resize(frame[30:50, 18:38], (64, 64), interpolation=cv2.INTER_LINEAR)
    assert small is not None and np.array_equal(small, expected)
    assert square_crop(frame, 150, 0, 20, 20) is None  # leaves the frame
    body = frame[:, :100]  # 100 wide, 120 tall: a 26-px head square at the top centre
    head = head_crop(body)
    expected = cv2.resize(body[0:26, 37:63], (64, 64), interpolation=cv2.INTER_LINEAR)
    assert head is not None and np.array_equal(head, expected)
