"""Benchmark dataset layouts: tiny fixture folders in each original layout (real
PNG/PFM files written here), plus the real ``scenes.json`` in ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from parallax.bench.datasets import LAYOUTS, find_scenes, load_scenes, select_scenes
from parallax.bench.datasets.manifest import parse_gt_encoding
from parallax.bench.scene import StereoScene, range_from_ground_truth
from parallax.errors import InputFileError, ParameterError, UnsupportedFormatError

H, W = 6, 10
RNG = np.random.default_rng(2024)


# ----------------------------------------------------------------- file writers
def rgb(h: int = H, w: int = W) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def save_png(path: Path, arr: np.ndarray, mode: str | None = None) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode=mode).save(path) if mode else Image.fromarray(arr).save(path)
    return arr


def save_pfm(path: Path, disp: np.ndarray) -> None:
    """Middlebury PFM: little-endian, rows bottom to top, +inf = no value."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.where(np.isnan(disp), np.inf, disp).astype("<f4")[::-1]
    path.write_bytes(b"Pf\n%d %d\n-1\n" % (disp.shape[1], disp.shape[0]) + np.ascontiguousarray(data).tobytes())


def save_calib(
    path: Path, *, f: float, cx0: float, cx1: float, cy: float, baseline_mm: float, ndisp: int, w: int = W
) -> None:
    path.write_text(
        f"cam0=[{f} 0 {cx0}; 0 {f} {cy}; 0 0 1]\ncam1=[{f} 0 {cx1}; 0 {f} {cy}; 0 0 1]\n"
        f"doffs={cx1 - cx0}\nbaseline={baseline_mm}\nwidth={w}\nheight={H}\nndisp={ndisp}\nisint=0\nvmin=2\nvmax=9\n"
    )


def gt_map(h: int = H, w: int = W, hi: float = 9.0) -> np.ndarray:
    d = RNG.uniform(1.0, hi, (h, w)).astype(np.float32)
    d[0, :3] = np.nan
    return d


def pair(folder: Path, left: str, right: str, h: int = H, w: int = W) -> np.ndarray:
    img = save_png(folder / left, rgb(h, w))
    save_png(folder / right, rgb(h, w))
    return img


# ---------------------------------------------------------------- Middlebury 2014
def test_middlebury2014_perfect_imperfect_and_eval3(tmp_path: Path) -> None:
    gts = {}
    for scene in ("Adirondack-perfect", "Adirondack-imperfect"):
        folder = tmp_path / "2014" / scene
        pair(folder, "im0.png", "im1.png")
        gts[scene] = gt_map()
        save_pfm(folder / "disp0.pfm", gts[scene])
        save_calib(folder / "calib.txt", f=4161.2, cx0=1445.6, cx1=1654.0, cy=984.0, baseline_mm=176.25, ndisp=8)
    evals = tmp_path / "MiddEval3" / "trainingQ" / "Jadeplant"
    pair(evals, "im0.png", "im1.png")
    save_pfm(evals / "disp0GT.pfm", gt_map())
    mask = np.full((H, W), 255, np.uint8)
    mask[:, :2] = 128
    mask[5, 9] = 0
    save_png(evals / "mask0nocc.png", mask)
    save_calib(evals / "calib.txt", f=100.0, cx0=5.0, cx1=6.0, cy=3.0, baseline_mm=50.0, ndisp=64, w=W)

    sources = find_scenes(tmp_path)
    assert [(s.name, s.layout) for s in sources] == [
        ("2014/Adirondack-imperfect", "middlebury2014"),
        ("2014/Adirondack-perfect", "middlebury2014"),
        ("MiddEval3/trainingQ/Jadeplant", "middlebury2014"),
    ]
    scene = sources[1].load()
    np.testing.assert_array_equal(scene.gt_disparity_px, gts["Adirondack-perfect"])  # NaN where inf
    assert np.isnan(scene.gt_disparity_px[0, :3]).all() and scene.nonocc is None
    np.testing.assert_array_equal(scene.left, np.asarray(Image.open(tmp_path / "2014/Adirondack-perfect/im0.png")))
    assert scene.calib.camera.focal_px == pytest.approx(4161.2)
    assert scene.calib.baseline_m == pytest.approx(0.17625)
    assert scene.calib.doffs_px == pytest.approx(1654.0 - 1445.6)
    assert (scene.min_disparity, scene.max_disparity, scene.range_source) == (0.0, 8.0, "dataset")
    # ndisp of 64 >= width 10 is no bound: the range comes from the ground truth
    jade = sources[2].load()
    assert jade.range_source == "ground-truth" and jade.max_disparity == 16.0
    expected = np.full((H, W), True)
    expected[:, :2] = False
    expected[5, 9] = False
    np.testing.assert_array_equal(jade.nonocc, expected)


def test_eth3d_two_view_with_gt_in_sibling_folder(tmp_path: Path) -> None:
    views = tmp_path / "two_view_training" / "delivery_area_1l"
    grey = RNG.integers(0, 256, (H, W), dtype=np.uint8)
    save_png(views / "im0.png", grey)
    save_png(views / "im1.png", grey[:, ::-1].copy())
    save_calib(views / "calib.txt", f=541.7, cx0=553.9, cx1=553.9, cy=232.3, baseline_mm=60.0, ndisp=W)
    (views / "cameras.txt").write_text("# COLMAP cameras\n")
    gt = gt_map(hi=20.0)
    gt_folder = tmp_path / "two_view_training_gt" / "delivery_area_1l"
    save_pfm(gt_folder / "disp0GT.pfm", gt)
    save_png(gt_folder / "mask0nocc.png", np.where(np.arange(W) < 5, 255, 0).astype(np.uint8)[None].repeat(H, 0))
    (sources,) = [find_scenes(tmp_path)]
    assert [(s.name, s.layout) for s in sources] == [("two_view_training/delivery_area_1l", "eth3d")]
    scene = sources[0].load()
    np.testing.assert_array_equal(scene.left, np.dstack([grey] * 3))  # grey views become RGB
    np.testing.assert_array_equal(scene.gt_disparity_px, gt)
    assert scene.nonocc[:, :5].all() and not scene.nonocc[:, 5:].any()
    assert scene.range_source == "ground-truth"  # ETH3D's ndisp = width is no bound
    assert scene.calib.doffs_px == 0.0 and scene.calib.baseline_m == pytest.approx(0.06)


# ------------------------------------------------------------ Middlebury 2005/2006
def test_middlebury2005_full_and_third_size_namings(tmp_path: Path) -> None:
    aloe = tmp_path / "Aloe"
    pair(aloe, "view1.png", "view5.png")
    raw = RNG.integers(0, 80, (H, W), dtype=np.uint8)
    raw[2, 2] = 0
    save_png(aloe / "disp1.png", raw)
    (aloe / "dmin.txt").write_text("270\n")
    third = tmp_path / "aloe-t"
    pair(third, "left.png", "right.png")
    raw_rgb = np.dstack([raw] * 3)
    save_png(third / "true_disp.png", raw_rgb)
    sources = find_scenes(tmp_path)
    assert [(s.name, s.layout) for s in sources] == [("Aloe", "middlebury2005"), ("aloe-t", "middlebury2005")]
    for source in sources:
        gt = source.load().gt_disparity_px
        assert np.isnan(gt[2, 2])
        valid = raw > 0
        np.testing.assert_array_equal(gt[valid], raw[valid].astype(np.float32))  # d = value


# ------------------------------------------------------------------ Middlebury 2003
def test_middlebury2003_quarter_size_divides_by_4(tmp_path: Path) -> None:
    folder = tmp_path / "cones"
    pair(folder, "im2.png", "im6.png", h=4, w=450)
    raw = RNG.integers(1, 240, (4, 450), dtype=np.uint8)
    raw[0, 0] = 0
    save_png(folder / "disp2.png", raw)
    save_png(folder / "nonocc.png", np.full((4, 450), 255, np.uint8))
    (source,) = find_scenes(folder)
    assert (source.name, source.layout) == ("cones", "middlebury2003")
    scene = source.load()
    assert np.isnan(scene.gt_disparity_px[0, 0])
    np.testing.assert_allclose(scene.gt_disparity_px[1:], raw[1:] / 4.0)
    assert scene.nonocc.all()


# ------------------------------------------------------------------ Middlebury 2001
def test_middlebury2001_tsukuba_palette_and_pgm_namings(tmp_path: Path) -> None:
    idx = RNG.integers(0, 8, (H, W), dtype=np.uint8)
    grey_of_index = np.array([0, 80, 96, 112, 128, 160, 176, 224], np.uint8)
    palette = np.zeros((256, 3), np.uint8)
    palette[:8] = grey_of_index[:, None]
    png = Image.fromarray(idx, mode="P")
    png.putpalette(palette.ravel().tolist())
    tsukuba = tmp_path / "tsukuba"
    pair(tsukuba, "imL.png", "imR.png")
    png.save(tsukuba / "groundtruth.png")
    original = tmp_path / "tsukuba-orig"
    original.mkdir()
    Image.fromarray(rgb()).save(original / "scene1.row3.col3.ppm")
    Image.fromarray(rgb()).save(original / "scene1.row3.col4.ppm")
    Image.fromarray(grey_of_index[idx]).save(original / "truedisp.row3.col3.pgm")
    venus = tmp_path / "venus"
    venus.mkdir()
    Image.fromarray(rgb()).save(venus / "im2.ppm")
    Image.fromarray(rgb()).save(venus / "im6.ppm")
    raw = RNG.integers(1, 160, (H, W), dtype=np.uint8)
    Image.fromarray(raw).save(venus / "disp2.pgm")

    sources = {s.name: s for s in find_scenes(tmp_path)}
    assert {n: s.layout for n, s in sources.items()} == dict.fromkeys(
        ["tsukuba", "tsukuba-orig", "venus"], "middlebury2001"
    )
    expected = grey_of_index[idx] / 16.0
    expected[idx == 0] = np.nan
    for name in ("tsukuba", "tsukuba-orig"):
        np.testing.assert_array_equal(sources[name].load().gt_disparity_px, expected.astype(np.float32))
    np.testing.assert_allclose(sources["venus"].load().gt_disparity_px, raw / 8.0)


# ---------------------------------------------------------------------- KITTI
def _kitti_frames(
    training: Path, left: str, right: str, occ: str, noc: str, calib: str, calib_keys: tuple[str, str]
) -> dict:
    h, w = 5, 12
    frames = {}
    for frame in ("000000", "000001"):
        save_png(training / left / f"{frame}_10.png", rgb(h, w))
        save_png(training / right / f"{frame}_10.png", rgb(h, w))
        save_png(training / left / f"{frame}_11.png", rgb(h, w))  # second frame: no GT, not a scene
        save_png(training / right / f"{frame}_11.png", rgb(h, w))
    occ_vals = RNG.integers(256, 200 * 256, (h, w)).astype(np.uint16)
    occ_vals[0, 0] = 0
    noc_vals = occ_vals.copy()
    noc_vals[:, :3] = 0
    save_png(training / occ / "000000_10.png", occ_vals)
    save_png(training / noc / "000000_10.png", noc_vals)
    (training / calib).mkdir(parents=True)
    p2 = "721.5 0 609.6 44.86 0 721.5 172.9 0.2164 0 0 1 0.002746"
    p3 = "721.5 0 609.6 -339.5 0 721.5 172.9 2.200 0 0 1 0.002730"
    (training / calib / "000000.txt").write_text(f"{calib_keys[0]}: {p2}\n{calib_keys[1]}: {p3}\n")
    frames["occ"], frames["noc"] = occ_vals, noc_vals
    return frames


@pytest.mark.parametrize(
    "layout",
    [
        ("image_2", "image_3", "disp_occ_0", "disp_noc_0", "calib_cam_to_cam", ("P_rect_02", "P_rect_03")),
        ("colored_0", "colored_1", "disp_occ", "disp_noc", "calib", ("P2", "P3")),
    ],
    ids=["kitti2015", "kitti2012"],
)
def test_kitti_layouts(tmp_path: Path, layout: tuple) -> None:
    root = tmp_path / "data_scene_flow"
    *folders, keys = layout
    maps = _kitti_frames(root / "training", *folders, keys)
    (root / "testing" / folders[0]).mkdir(parents=True)  # no GT: not scenes
    sources = find_scenes(root)
    assert [(s.name, s.layout) for s in sources] == [("training/000000_10", "kitti")]  # 000001 has no GT
    scene = sources[0].load()
    occ = maps["occ"]
    assert np.isnan(scene.gt_disparity_px[0, 0])
    np.testing.assert_allclose(scene.gt_disparity_px[occ > 0], occ[occ > 0] / 256.0)
    np.testing.assert_array_equal(scene.nonocc, maps["noc"] > 0)
    assert scene.calib.camera.focal_px == pytest.approx(721.5)
    assert scene.calib.baseline_m == pytest.approx((44.86 + 339.5) / 721.5)
    assert scene.calib.doffs_px == 0.0
    assert select_scenes(sources, ["000000_10"])[0].name == "training/000000_10"


# --------------------------------------------------------- the real scenes.json
def test_real_manifest_reads_every_scene_with_its_encoding(stereo_gt_dir: Path) -> None:
    scenes = {s.name: s for s in load_scenes(stereo_gt_dir / "scenes.json")}
    assert sorted(scenes) == sorted(json.loads((stereo_gt_dir / "scenes.json").read_text())["scenes"])
    sizes = {n: (s.width, s.height) for n, s in scenes.items()}
    assert sizes["middlebury2001-tsukuba"] == (384, 288)
    assert sizes["middlebury2014-motorcycle-q"] == (741, 500)
    # tsukuba: palette -> grey / 16 gives whole disparities 5..14; 0 (border) = no GT
    ts = scenes["middlebury2001-tsukuba"].gt_disparity_px
    assert set(np.unique(ts[np.isfinite(ts)])) <= set(np.arange(5.0, 15.0))
    assert np.isnan(ts[:18]).all()
    cones = scenes["middlebury2003-cones"].gt_disparity_px
    raw = np.asarray(Image.open(stereo_gt_dir / "middlebury2003-cones" / "cones_disp_02.png"))
    np.testing.assert_array_equal(cones[raw > 0], raw[raw > 0] / np.float32(4))
    aloe = scenes["middlebury2006-aloe-t"].gt_disparity_px
    raw = np.asarray(Image.open(stereo_gt_dir / "middlebury2006-aloe-t" / "true_disp.png"))[..., 0]
    np.testing.assert_array_equal(aloe[raw > 0], raw[raw > 0].astype(np.float32))
    moto = scenes["middlebury2014-motorcycle-q"]
    npz = np.load(stereo_gt_dir / "middlebury2014-motorcycle-q" / "motorcycle_disp.npz")["arr_0"]
    np.testing.assert_array_equal(np.isnan(moto.gt_disparity_px), ~np.isfinite(npz))
    assert moto.calib.baseline_m == pytest.approx(0.193001) and moto.calib.doffs_px == pytest.approx(31.086)
    eth = scenes["eth3d-playground_1l"]
    assert 0.4 < eth.gt_valid.mean() < 0.6  # sparse GT, about half valid
    assert eth.calib.camera.focal_px == pytest.approx(542.019)
    for scene in scenes.values():
        assert scene.range_source == "ground-truth"
        assert scene.min_disparity <= np.nanmin(scene.gt_disparity_px)
        assert scene.max_disparity > np.nanmax(scene.gt_disparity_px)


def test_manifest_encodings_and_errors(tmp_path: Path) -> None:
    assert parse_gt_encoding("16-bit PNG, disparity = value / 256; 0 = invalid") == {"kind": "png", "divisor": 256.0}
    assert parse_gt_encoding("8-bit PNG (take one channel), disparity = value; 0 = invalid") == {
        "kind": "png",
        "divisor": 1.0,
    }
    assert parse_gt_encoding("PFM float32; inf = invalid") == {"kind": "pfm"}
    with pytest.raises(UnsupportedFormatError, match="gt_encoding 'EXR half floats'"):
        parse_gt_encoding("EXR half floats")

    folder = tmp_path / "s1"
    pair(folder, "l.png", "r.png")
    raw = RNG.integers(1, 255, (H, W), dtype=np.uint8)
    save_png(folder / "d.png", raw)
    manifest = tmp_path / "scenes.json"
    entry = {
        "left": "l.png",
        "right": "r.png",
        "gt": "d.png",
        "gt_encoding": "8-bit PNG, disparity = value / 2; 0 = invalid",
        "calib": {"f": 10.0, "cx": 5.0, "cy": 3.0, "doffs": 1.5, "baseline_mm": 100.0},
    }
    manifest.write_text(json.dumps({"scenes": {"s1": entry}}))
    (scene,) = load_scenes(tmp_path)  # the folder holding scenes.json
    np.testing.assert_allclose(scene.gt_disparity_px, raw / 2.0)
    assert scene.calib.baseline_m == pytest.approx(0.1) and scene.calib.doffs_px == 1.5

    manifest.write_text(json.dumps({"scenes": {"s1": {**entry, "gt_encoding": "JPEG"}}}))
    with pytest.raises(UnsupportedFormatError, match="scene 's1'"):
        find_scenes(manifest)
    manifest.write_text(json.dumps({"scenes": {"s1": {**entry, "gt": "missing.png"}}}))
    with pytest.raises(InputFileError, match="missing.png: file not found"):
        list(load_scenes(manifest))
    manifest.write_text(json.dumps({"scenes": {"s1": {**entry, "calib": {"f": "x"}}}}))
    with pytest.raises(InputFileError, match="calib"):
        list(load_scenes(manifest))
    manifest.write_text("{not json")
    with pytest.raises(InputFileError, match="not valid JSON"):
        find_scenes(manifest)
    manifest.write_text(json.dumps({"scenes": {"s1": {"left": "l.png"}}}))
    with pytest.raises(InputFileError, match="lacks right, gt, gt_encoding"):
        find_scenes(manifest)


# ------------------------------------------------------------------- errors
def test_discovery_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        find_scenes(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no stereo scene"):
        find_scenes(tmp_path / "empty")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(UnsupportedFormatError, match="not a scenes.json"):
        find_scenes(tmp_path / "x.txt")


def test_damaged_files_name_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "Scene"
    pair(folder, "im0.png", "im1.png")
    save_pfm(folder / "disp0.pfm", gt_map())
    raw = (folder / "disp0.pfm").read_bytes()
    (folder / "disp0.pfm").write_bytes(raw[:-20])
    (source,) = find_scenes(folder)
    with pytest.raises(InputFileError, match="disp0.pfm.*truncated"):
        source.load()
    save_pfm(folder / "disp0.pfm", gt_map(h=H + 1))
    with pytest.raises(InputFileError, match="disp0.pfm: 10x7, but the left view"):
        source.load()
    save_pfm(folder / "disp0.pfm", np.full((H, W), np.nan, np.float32))
    with pytest.raises(InputFileError, match="no valid pixel"):
        source.load()
    save_pfm(folder / "disp0.pfm", gt_map())
    (folder / "im1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(InputFileError, match="im1.png: cannot read the image"):
        source.load()
    save_png(folder / "im1.png", rgb())
    (folder / "calib.txt").write_text("cam0=[1 2 3]\n")
    (source,) = find_scenes(folder)  # now with its calib.txt
    with pytest.raises(InputFileError, match="3x3 matrix needs 9"):
        source.load()
    (folder / "calib.txt").write_text("baseline 3\n")
    with pytest.raises(InputFileError, match="not key=value"):
        source.load()
    (folder / "calib.txt").write_text("baseline=3\n")
    with pytest.raises(InputFileError, match="lacks cam0"):
        source.load()


def test_scene_selection_and_validation(tmp_path: Path) -> None:
    for name in ("A", "B"):
        folder = tmp_path / name
        pair(folder, "im0.png", "im1.png")
        save_pfm(folder / "disp0.pfm", gt_map())
    sources = find_scenes(tmp_path)
    assert [s.name for s in select_scenes(sources, ["B", "A"])] == ["B", "A"]
    assert select_scenes(sources, None) == sources
    with pytest.raises(ParameterError, match="--scene 'C' is not in the dataset; available: A, B"):
        select_scenes(sources, ["C"])
    with pytest.raises(ParameterError, match="range"):
        StereoScene(
            name="x",
            left=rgb(),
            right=rgb(),
            gt_disparity_px=gt_map(),
            nonocc=None,
            calib=None,
            min_disparity=5.0,
            max_disparity=5.0,
            range_source="dataset",
            dataset="t",
            source="m",
        )
    with pytest.raises(ParameterError, match="differ in size"):
        StereoScene(
            name="x",
            left=rgb(),
            right=rgb(H, W + 1),
            gt_disparity_px=gt_map(),
            nonocc=None,
            calib=None,
            min_disparity=0.0,
            max_disparity=5.0,
            range_source="dataset",
            dataset="t",
            source="m",
        )
    with pytest.raises(ParameterError, match="inf"):
        StereoScene(
            name="x",
            left=rgb(),
            right=rgb(),
            gt_disparity_px=np.full((H, W), np.inf, np.float32),
            nonocc=None,
            calib=None,
            min_disparity=0.0,
            max_disparity=5.0,
            range_source="dataset",
            dataset="t",
            source="m",
        )
    assert range_from_ground_truth(np.array([[-3.5, 16.0]])) == (-4.0, 32.0)
    with pytest.raises(ParameterError, match="no valid pixel"):
        range_from_ground_truth(np.full((2, 2), np.nan))
    assert list(LAYOUTS)[0] == "scenes-json"


def test_reader_error_paths(tmp_path: Path) -> None:
    from parallax.bench.datasets.files import read_kitti_calib, read_middlebury_calib, read_pfm, read_view

    colour = tmp_path / "c.pfm"
    colour.write_bytes(b"PF\n2 1\n-1\n" + np.zeros(6, "<f4").tobytes())
    with pytest.raises(UnsupportedFormatError, match="3-channel PFM"):
        read_pfm(colour)
    with pytest.raises(InputFileError, match="not found"):
        read_pfm(tmp_path / "none.pfm")
    calib = tmp_path / "calib.txt"
    calib.write_text("baseline=abc\n")
    with pytest.raises(InputFileError, match="baseline='abc' is not a number"):
        read_middlebury_calib(calib)
    calib.write_text("P0: 1 2 3\n")
    with pytest.raises(InputFileError, match="no P2/P3"):
        read_kitti_calib(calib, width=4, height=4)
    sixteen = tmp_path / "v16.png"
    Image.fromarray(np.full((2, 3), 0x1234, np.uint16)).save(sixteen)
    np.testing.assert_array_equal(read_view(sixteen), np.full((2, 3, 3), 0x12, np.uint8))  # 16-bit -> >> 8

    manifest = tmp_path / "m" / "scenes.json"
    manifest.parent.mkdir()
    for doc, message in (([], 'no "scenes" object'), ({"scenes": {"a": 3}}, "scene 'a' is not an object")):
        manifest.write_text(json.dumps(doc))
        with pytest.raises(InputFileError, match=message):
            find_scenes(manifest)
    npz_entry = {"left": "l.png", "right": "r.png", "gt": "d.npz", "gt_encoding": "npz float32 array; inf = invalid"}
    pair(manifest.parent / "a", "l.png", "r.png")
    manifest.write_text(json.dumps({"scenes": {"a": npz_entry}}))
    (manifest.parent / "a" / "d.npz").write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="cannot read the npz"):
        list(load_scenes(manifest))
    np.savez(manifest.parent / "a" / "d.npz", np.zeros((2, 2, 2), np.float32))
    with pytest.raises(InputFileError, match="must be 2-D"):
        list(load_scenes(manifest))


def test_kitti_mask_size_mismatch_and_duplicate_names(tmp_path: Path) -> None:
    training = tmp_path / "kitti" / "training"
    pair(training / "image_2", "000000_10.png", "x.png")
    save_png(training / "image_3" / "000000_10.png", rgb())
    save_png(training / "disp_occ_0" / "000000_10.png", np.full((H, W), 512, np.uint16))
    save_png(training / "disp_noc_0" / "000000_10.png", np.full((H + 1, W), 512, np.uint16))
    (source,) = find_scenes(tmp_path / "kitti")
    with pytest.raises(InputFileError, match="disp_noc_0/000000_10.png: 10x7, the views are 10x6"):
        source.load()
    for parent in ("a", "b"):  # two folders whose scene is called the same
        folder = tmp_path / "dupes" / parent / "Scene"
        pair(folder, "im0.png", "im1.png")
        save_pfm(folder / "disp0.pfm", gt_map())
    sources = find_scenes(tmp_path / "dupes")
    assert [s.name for s in sources] == ["a/Scene", "b/Scene"]
    with pytest.raises(ParameterError, match="ambiguous"):
        select_scenes(sources, ["Scene"])
    # a manifest scene named like a scene folder beside it: the names clash
    (tmp_path / "dupes" / "m").mkdir()
    entry = {"left": "im0.png", "right": "im1.png", "gt": "disp0.pfm", "gt_encoding": "PFM float32"}
    (tmp_path / "dupes" / "m" / "scenes.json").write_text(json.dumps({"scenes": {"a/Scene": entry}}))
    with pytest.raises(InputFileError, match=r"scene names \['a/Scene'\] occur twice"):
        find_scenes(tmp_path / "dupes")
