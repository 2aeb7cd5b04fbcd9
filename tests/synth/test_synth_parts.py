"""The synth building blocks without rendering: settings, rig, ground-truth maths, meshes, textures, effects, plans."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from parallax.errors import InputFileError, ParameterError
from parallax.synth import meshes
from parallax.synth.config import SynthConfig, parse_range, parse_size
from parallax.synth.effects import NO_EFFECTS, PhoneEffects, auto_exposure, develop, linear_to_srgb8
from parallax.synth.groundtruth import (
    depth_edges,
    disparity_from_depth,
    mixed_pixels,
    occlusion_mask,
    view_truth,
    warp_with_disparity,
)
from parallax.synth.materials import MATERIAL_KINDS
from parallax.synth.rig import StereoRig, axis_angle_matrix, look_rotation, pixel_rays
from parallax.synth.scene import plan_scene
from parallax.synth.textures import PATTERNS, list_texture_images, load_texture_image, procedural_texture

# ----------------------------------------------------------------------------- settings


def test_synth_parse_size_and_range():
    assert parse_size("640x480") == ((640, 480), (640, 480))
    assert parse_size("320x240:640X480") == ((320, 240), (640, 480))
    assert parse_range("--baseline-range", "0.02,0.1") == (0.02, 0.1)
    assert parse_range("--focal-range", "26") == (26.0, 26.0)
    for bad in ("640", "640x", "axb", "1x2:3x4:5x6"):
        with pytest.raises(ParameterError, match="--size"):
            parse_size(bad)
    for bad in ("a,b", "1,2,3", ""):
        with pytest.raises(ParameterError, match="--baseline-range"):
            parse_range("--baseline-range", bad)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"size_range": ((16, 16), (16, 16))}, "out of range"),
        ({"size_range": ((640, 480), (320, 240))}, "reversed"),
        ({"spp": 0}, "spp"),
        ({"baseline_range_m": (0.1, 0.05)}, "baseline_range_m"),
        ({"baseline_range_m": (0.0, 0.05)}, "baseline_range_m"),
        ({"focal_range_mm35": (2.0, 20.0)}, "focal_range_mm35"),
        ({"rect_error_deg": 9.0}, "rect_error_deg"),
        ({"scene_kinds": ("cave",)}, "scene_kinds"),
        ({"scene_kinds": ()}, "scene_kinds"),
        ({"object_count_range": (2.5, 3)}, "whole numbers"),
        ({"mirror_probability": 1.5}, "mirror_probability"),
        ({"max_bounces": 1}, "max_bounces"),
    ],
)
def test_synth_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        SynthConfig(**kwargs)


def test_synth_config_to_dict_is_json():
    cfg = SynthConfig(size_range=((320, 240), (640, 480)), baseline_range_m=(0.03, 0.05))
    d = json.loads(json.dumps(cfg.to_dict()))
    assert d["size_range"] == [[320, 240], [640, 480]] and d["baseline_range_m"] == [0.03, 0.05]


# ----------------------------------------------------------------------------- rig


def _rig(rect_error_deg: float = 0.0) -> StereoRig:
    R = look_rotation(np.array([0.3, -0.1, 1.0]))
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = R, [0.5, 1.5, -2.0]
    R_err = axis_angle_matrix(np.array([1.0, 0.5, 0.2]), math.radians(rect_error_deg))
    return StereoRig(width=64, height=48, focal_px=50.0, baseline_m=0.1, left_to_world=pose, rect_error_rotation=R_err)


def test_synth_rig_projects_points_with_its_disparity():
    """A world point projects into both views with ``x_right = x_left - f B / Z`` and equal rows."""
    rig = _rig()
    K = rig.K
    point = rig.pose("left") @ np.array([0.3, -0.2, 4.0, 1.0])

    def project(view):
        cam = np.linalg.inv(rig.pose(view)) @ point
        uv = K @ cam[:3]
        return uv[:2] / uv[2], cam[2]

    (xl, yl), zl = project("left")
    (xr, yr), zr = project("right")
    assert zl == pytest.approx(4.0) and zr == pytest.approx(4.0)
    assert yr == pytest.approx(yl)
    assert xl - xr == pytest.approx(rig.focal_px * rig.baseline_m / 4.0)
    # camera axes: OpenCV (y down) in a y-up world
    assert rig.pose("left")[:3, 1] @ np.array([0, 1, 0]) < 0


def test_synth_rig_pixel_rays_hit_their_pixels():
    rig = _rig()
    origin, dirs_w, dirs_c = pixel_rays(rig, "left")
    assert np.allclose(np.linalg.norm(dirs_w, axis=-1), 1.0)
    p = origin + 3.0 * dirs_w[10, 20]
    cam = np.linalg.inv(rig.pose("left")) @ np.append(p, 1.0)
    uv = rig.K @ cam[:3]
    assert uv[:2] / uv[2] == pytest.approx([20.0, 10.0])
    _, _, shifted = pixel_rays(rig, "left", offset_px=(0.25, -0.25))
    uv = rig.K @ shifted[10, 20]
    assert uv[:2] / uv[2] == pytest.approx([20.25, 9.75])


def test_synth_rig_residual_homography_maps_delivered_to_rectified():
    rig = _rig(rect_error_deg=2.0)
    assert rig.rect_error_deg == pytest.approx(2.0)
    point = rig.pose("left") @ np.array([0.4, 0.1, 3.0, 1.0])

    def pixel(view):
        cam = np.linalg.inv(rig.pose(view)) @ point
        uv = rig.K @ cam[:3]
        return uv / uv[2]

    delivered, rectified = pixel("right_delivered"), pixel("right")
    mapped = rig.H_right_residual @ delivered
    assert (mapped / mapped[2])[:2] == pytest.approx(rectified[:2], abs=1e-9)
    assert not np.allclose(delivered[:2], rectified[:2], atol=0.1)
    json.dumps(rig.to_dict())
    with pytest.raises(ParameterError, match="view"):
        rig.pose("middle")  # type: ignore[arg-type]


def test_synth_rig_rejects_bad_values():
    with pytest.raises(ParameterError, match="baseline_m"):
        StereoRig(
            width=8, height=8, focal_px=5.0, baseline_m=0.0, left_to_world=np.eye(4), rect_error_rotation=np.eye(3)
        )
    with pytest.raises(ParameterError, match="rotation"):
        StereoRig(
            width=8, height=8, focal_px=5.0, baseline_m=0.1, left_to_world=np.eye(4), rect_error_rotation=2 * np.eye(3)
        )
    with pytest.raises(ParameterError, match="parallel"):
        look_rotation(np.array([0.0, 1.0, 0.0]))


# ----------------------------------------------------------------------------- ground truth maths


def _step_scene(w: int = 40, h: int = 6, f: float = 20.0, b: float = 0.5):
    """A far wall at 10 m with a near board at 2 m over columns 15..24 (left view), and its right view."""
    zl = np.full((h, w), 10.0)
    zl[:, 15:25] = 2.0
    dl = f * b / zl  # 1 px far, 5 px near
    zr = np.full((h, w), 10.0)
    zr[:, 10:20] = 2.0  # the board moved left by 5 px
    return zl.astype(np.float32), dl.astype(np.float32), zr.astype(np.float32)


def test_synth_occlusion_mask_on_a_step():
    zl, dl, zr = _step_scene()
    occ = occlusion_mask(zl, dl, zr, sign=-1)
    # background just left of the board (d_board - d_wall = 4 px): the board hides it from the right view
    assert occ[0, 11:15].all()
    assert not occ[0, 15:25].any()  # the board itself is seen by both
    assert not occ[0, 2:11].any() and not occ[0, 25:].any()
    assert occ[0, 0]  # x - 1 < -0.5: out of the right view
    # right view: background just left of the board is hidden from the left view
    dr = (20.0 * 0.5 / zr).astype(np.float32)
    occ_r = occlusion_mask(zr, dr, zl, sign=+1)
    assert occ_r[0, 20:24].all() and not occ_r[0, 10:20].any() and not occ_r[0, 24:39].any()
    sky = zl.copy()
    sky[:, :3] = np.nan
    assert not occlusion_mask(sky, disparity_from_depth(sky, focal_px=20, baseline_m=0.5), zr, sign=-1)[:, :3].any()
    with pytest.raises(ParameterError, match="sign"):
        occlusion_mask(zl, dl, zr, sign=0)


def test_synth_disparity_edges_mixed_and_warp():
    zl, dl, zr = _step_scene()
    assert np.allclose(disparity_from_depth(zl, focal_px=20.0, baseline_m=0.5), dl)
    with pytest.raises(ParameterError, match="positive"):
        disparity_from_depth(zl, focal_px=0.0, baseline_m=0.5)
    edges = depth_edges(zl)
    assert edges[:, 14:16].all() and edges[:, 24:26].all() and not edges[:, 5:12].any()
    shifted = np.roll(zl, 1, axis=1)
    mixed = mixed_pixels(zl, [shifted])
    assert mixed[:, 15].all() and mixed[:, 25].all() and not mixed[:, 5:14].any()
    # warping: a right view made from the left by the disparity warps back exactly (integer disparities)
    rng = np.random.default_rng(0)
    right = rng.integers(0, 255, (6, 40, 3)).astype(np.uint8)
    warped = warp_with_disparity(right, dl)
    x = np.arange(40)[None, :] - dl
    inside = (x >= 0) & (x <= 39)
    ys = np.repeat(np.arange(6)[:, None], 40, axis=1)
    expect = right[ys[inside], x[inside].astype(int)].astype(np.float32)
    assert np.allclose(warped[inside], expect)
    with pytest.raises(ParameterError, match="differ in size"):
        warp_with_disparity(right[:3], dl)


def test_synth_view_truth_normals_face_the_camera():
    h, w = 4, 5
    dirs = np.zeros((h, w, 3))
    dirs[..., 2] = 1.0
    normals = np.zeros((h, w, 3))
    normals[..., 2] = 1.0  # world +z; camera looks along world +z: the normal faces away
    dist = np.full((h, w), 3.0)
    dist[0, 0] = np.nan
    normals[0, 0] = np.nan
    kind = np.zeros((h, w), np.int8)
    kind[1, 1] = MATERIAL_KINDS.index("mirror")
    kind[0, 0] = -1
    t = view_truth(dist, dirs, normals, kind, np.eye(4), focal_px=10.0, baseline_m=0.1)
    assert np.allclose(t.normals[1:, :, 2], -1.0)
    assert np.isnan(t.depth_m[0, 0]) and np.isnan(t.normals[0, 0]).all() and np.isnan(t.disparity_px[0, 0])
    assert t.disparity_px[2, 2] == pytest.approx(10.0 * 0.1 / 3.0)
    assert t.reflection_mask[1, 1] and t.reflection_mask.sum() == 1
    assert not t.mixed_mask.any()


# ----------------------------------------------------------------------------- meshes, textures, effects


@pytest.mark.parametrize("name", ["blob", "rock", "torus", "vase", "superellipsoid", "terrain"])
def test_synth_meshes_are_valid(name):
    rng = np.random.default_rng(1)
    mesh = {
        "blob": lambda: meshes.blob(rng),
        "rock": lambda: meshes.rock(rng),
        "torus": lambda: meshes.torus(),
        "vase": lambda: meshes.vase(rng),
        "superellipsoid": lambda: meshes.superellipsoid(rng),
        "terrain": lambda: meshes.terrain(rng, n=16),
    }[name]()
    assert np.isfinite(mesh.vertices).all() and mesh.faces.max() < len(mesh.vertices)
    v = mesh.vertices.astype(np.float64)
    fn = np.cross(v[mesh.faces[:, 1]] - v[mesh.faces[:, 0]], v[mesh.faces[:, 2]] - v[mesh.faces[:, 0]])
    centre = v[mesh.faces].mean(axis=1) - v.mean(axis=0)
    if name == "torus":  # outward from the tube's axis circle (major radius 1)
        ring = centre * np.array([1.0, 0.0, 1.0])
        centre = centre - ring / np.linalg.norm(ring, axis=1, keepdims=True)
    if name == "vase":  # open surface of revolution: outward from the y axis
        centre = centre * np.array([1.0, 0.0, 1.0])
    if name == "terrain":
        assert (fn[:, 1] > 0).mean() > 0.99  # the ground faces up
    else:  # faces point outwards
        assert (np.sum(fn * centre, axis=1) > 0).mean() > 0.95
    if mesh.normals is not None:
        assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-5)


def test_synth_mesh_rejects_bad_arrays():
    with pytest.raises(ParameterError, match="faces"):
        meshes.TriMesh(vertices=np.zeros((3, 3)), faces=[[0, 1, 5]], uv=np.zeros((3, 2)))
    with pytest.raises(ParameterError, match="minor_radius"):
        meshes.torus(major_radius=1.0, minor_radius=2.0)


def test_synth_procedural_textures_are_seeded_and_linear():
    for pattern in PATTERNS:
        name, a = procedural_texture(np.random.default_rng(3), pattern=pattern, size=32)
        _, b = procedural_texture(np.random.default_rng(3), pattern=pattern, size=32)
        assert name == pattern and a.shape == (32, 32, 3) and a.dtype == np.float32
        assert np.array_equal(a, b) and 0.0 <= a.min() and a.max() <= 1.0
    with pytest.raises(ParameterError, match="pattern"):
        procedural_texture(np.random.default_rng(0), pattern="marble")


def test_synth_user_textures(texture_folder, tmp_path):
    files = list_texture_images(texture_folder)
    assert [f.name for f in files] == ["noise.png", "ramp.jpg"]
    tex = load_texture_image(files[0])
    assert tex.shape == (40, 60, 3) and tex.dtype == np.float32
    with pytest.raises(InputFileError, match="does not exist"):
        list_texture_images(tmp_path / "missing")
    with pytest.raises(InputFileError, match="holds no images"):
        list_texture_images(tmp_path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(InputFileError, match="broken.png"):
        load_texture_image(broken)
    # plans draw from the user's images
    cfg = SynthConfig(size_range=((64, 48), (64, 48)), object_count_range=(10, 12))
    sources = set()
    for seed in range(4):
        plan = plan_scene(np.random.default_rng(seed), cfg, files)
        sources |= {m.texture_source for m in plan.materials.values()}
    assert {"user:noise.png", "user:ramp.jpg"} & sources


def test_synth_effects():
    rng = np.random.default_rng(0)
    linear = rng.uniform(0, 2, (8, 8, 3)).astype(np.float32)
    clean = develop(linear, scale=0.5, effects=NO_EFFECTS, view=0, rng=np.random.default_rng(1))
    assert np.array_equal(clean, linear_to_srgb8(linear * 0.5))
    fx = PhoneEffects(exposure_ev=0.3, right_exposure_ev=0.1, blur_sigma_px=(0.5, 0.7), shot_gain=1e-3, read_sigma=1e-3)
    a = develop(linear, scale=0.5, effects=fx, view=1, rng=np.random.default_rng(1))
    b = develop(linear, scale=0.5, effects=fx, view=1, rng=np.random.default_rng(1))
    c = develop(linear, scale=0.5, effects=fx, view=1, rng=np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert linear_to_srgb8(np.array([0.0, 1.0, 2.0])).tolist() == [0, 255, 255]
    assert auto_exposure(np.full((4, 4, 3), 0.5, np.float32)) == pytest.approx(1.7)
    with pytest.raises(ParameterError):
        PhoneEffects(shot_gain=-1.0)


# ----------------------------------------------------------------------------- plans


def test_synth_plans_are_seeded_and_varied():
    cfg = SynthConfig(size_range=((320, 240), (640, 480)))
    a = plan_scene(np.random.default_rng(9), cfg)
    b = plan_scene(np.random.default_rng(9), cfg)
    assert json.dumps(a.describe(), sort_keys=True) == json.dumps(b.describe(), sort_keys=True)
    kinds, roles, mats = set(), set(), set()
    for seed in range(8):
        plan = plan_scene(np.random.default_rng(seed), cfg)
        kinds.add(plan.kind)
        roles |= {s.role.split(":")[0] for s in plan.shapes}
        mats |= {m.kind for m in plan.materials.values()}
        assert 320 <= plan.rig.width <= 640 and plan.rig.width % 2 == 0
        assert 0.02 <= plan.rig.baseline_m <= 0.1
        assert 22 / 36 * plan.rig.width <= plan.rig.focal_px <= 50 / 36 * plan.rig.width
    assert kinds == {"room", "outdoor"}
    assert {"object", "thin", "mirror"} <= roles
    assert {"diffuse", "rough_metal", "metal", "mirror", "glass", "emitter"} <= mats
