from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from galvae import GalvaeFileError, GalvaeValueError
from galvae.data.readers import (
    read_array,
    read_fits,
    read_fits_bands,
    read_image,
    read_rgb,
)


def _cube(rng, n=3, h=20, w=24):
    return rng.normal(1.0, 0.1, size=(n, h, w)).astype(np.float32)


def _write_cube(path, data, bands="grz", header_style="both", cd=0.262 / 3600):
    hdu = fits.PrimaryHDU(data)
    if header_style in ("both", "bands"):
        hdu.header["BANDS"] = bands
    if header_style in ("both", "bandn"):
        for i, b in enumerate(bands):
            hdu.header[f"BAND{i}"] = b
    if cd:
        hdu.header["CD1_1"] = -cd
        hdu.header["CD2_2"] = cd
    hdu.writeto(path)
    return path


@pytest.mark.parametrize("style", ["both", "bands", "bandn"])
def test_fits_cube_band_keywords(tmp_path, rng, style):
    data = _cube(rng)
    d = read_fits(_write_cube(tmp_path / "c.fits", data, header_style=style))
    assert d.image.dtype == np.float32 and d.image.shape == (3, 20, 24)
    np.testing.assert_array_equal(d.image, data)
    assert not d.mask.any() and d.kind == "flux" and d.bands_present == ("g", "r", "z")
    assert d.pixel_scale_arcsec == pytest.approx(0.262)


def test_fits_reorders_and_drops_extra_bands(tmp_path, rng):
    data = _cube(rng, n=4)
    d = read_fits(_write_cube(tmp_path / "c.fits", data, bands="zirg"))
    np.testing.assert_array_equal(d.image[0], data[3])  # g
    np.testing.assert_array_equal(d.image[1], data[2])  # r
    np.testing.assert_array_equal(d.image[2], data[0])  # z


def test_fits_missing_band_masked_and_zero_filled(tmp_path, rng):
    data = _cube(rng, n=2)
    d = read_fits(_write_cube(tmp_path / "c.fits", data, bands="gr"))
    assert d.bands_present == ("g", "r")
    assert d.mask[2].all() and not d.mask[:2].any()
    assert (d.image[2] == 0).all()


def test_fits_nan_zero_band_and_ivar(tmp_path, rng):
    data = _cube(rng)
    data[0, 3, 4] = np.nan
    data[2] = 0.0  # no coverage in z
    ivar = np.ones_like(data)
    ivar[1, 5, 6] = 0
    hdul = fits.HDUList([fits.PrimaryHDU(data), fits.ImageHDU(ivar, name="INVVAR")])
    hdul[0].header["BANDS"] = "grz"
    hdul.writeto(tmp_path / "c.fits")
    d = read_fits(tmp_path / "c.fits")
    assert d.mask[0, 3, 4] and d.image[0, 3, 4] == 0.0
    assert d.mask[1, 5, 6] and d.image[1, 5, 6] == data[1, 5, 6] * 0  # filled with 0
    assert d.mask[2].all()
    assert d.mask.sum() == 2 + 20 * 24


def test_fits_blank_scaled_ints_become_masked(tmp_path):
    raw = np.full((3, 10, 10), 100, dtype=np.int16)
    raw[1, 2, 2] = -32768
    hdu = fits.PrimaryHDU(raw)
    hdu.header["BSCALE"] = 0.01
    hdu.header["BZERO"] = 0.0
    hdu.header["BLANK"] = -32768
    hdu.header["BANDS"] = "grz"
    hdu.writeto(tmp_path / "s.fits")
    d = read_fits(tmp_path / "s.fits")
    assert d.mask[1, 2, 2] and d.mask.sum() == 1
    assert d.image[0, 0, 0] == pytest.approx(1.0)


def test_fits_three_planes_without_names_taken_as_grz(tmp_path, rng):
    data = _cube(rng)
    fits.PrimaryHDU(data).writeto(tmp_path / "c.fits")
    np.testing.assert_array_equal(read_fits(tmp_path / "c.fits").image, data)


def test_fits_one_file_per_band(tmp_path, rng):
    data = _cube(rng)
    paths = {}
    for i, b in enumerate("gz"):
        paths[b] = tmp_path / f"x-{b}.fits"
        fits.PrimaryHDU(data[i]).writeto(paths[b])
    d = read_fits_bands(paths)
    np.testing.assert_array_equal(d.image[0], data[0])
    np.testing.assert_array_equal(d.image[2], data[1])
    assert d.mask[1].all()
    with pytest.raises(GalvaeValueError, match="keys must be band names.*'i'"):
        read_fits_bands({"i": paths["g"]})
    fits.PrimaryHDU(data[0][:16, :16]).writeto(tmp_path / "small-r.fits")
    with pytest.raises(
        GalvaeFileError,
        match=r"small-r\.fits: r band is 16x16 pixels but the g band \(.*x-g\.fits\) is 20x24; band files must match",
    ):
        read_fits_bands({"g": paths["g"], "r": tmp_path / "small-r.fits"})


def test_fits_errors_name_file_and_problem(tmp_path, rng):
    with pytest.raises(GalvaeFileError, match="nope.fits: file not found"):
        read_fits(tmp_path / "nope.fits")
    good = _write_cube(tmp_path / "good.fits", _cube(rng, h=40, w=40))
    trunc = tmp_path / "trunc.fits"
    trunc.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(GalvaeFileError, match=r"trunc.fits: truncated FITS file \(File may have been truncated"):
        read_fits(trunc)
    txt = tmp_path / "text.fits"
    txt.write_text("hello, not fits")
    with pytest.raises(GalvaeFileError, match="text.fits: not a readable FITS file"):
        read_fits(txt)
    fits.PrimaryHDU().writeto(tmp_path / "empty.fits")
    with pytest.raises(GalvaeFileError, match="empty.fits: no image data"):
        read_fits(tmp_path / "empty.fits")
    fits.PrimaryHDU(np.zeros((2, 3, 8, 8), np.float32)).writeto(tmp_path / "4d.fits")
    with pytest.raises(GalvaeFileError, match=r"4d.fits: image has shape \(2, 3, 8, 8\)"):
        read_fits(tmp_path / "4d.fits")
    fits.PrimaryHDU(np.ones((2, 16, 16), np.float32)).writeto(tmp_path / "two.fits")
    with pytest.raises(GalvaeFileError, match="two.fits: 2 image plane.*without band names"):
        read_fits(tmp_path / "two.fits")
    _write_cube(tmp_path / "zero.fits", np.zeros((3, 16, 16), np.float32))
    with pytest.raises(GalvaeFileError, match="zero.fits: every pixel is invalid"):
        read_fits(tmp_path / "zero.fits")
    _write_cube(tmp_path / "tiny.fits", np.ones((3, 4, 4), np.float32))
    with pytest.raises(GalvaeFileError, match="tiny.fits: image is 4x4 pixels"):
        read_fits(tmp_path / "tiny.fits")
    _write_cube(tmp_path / "iz.fits", np.ones((2, 16, 16), np.float32), bands="iy")
    with pytest.raises(GalvaeFileError, match="include none of g, r, z"):
        read_fits(tmp_path / "iz.fits")
    _write_cube(tmp_path / "gr3.fits", np.ones((3, 16, 16), np.float32), bands="gr", header_style="bands")
    with pytest.raises(GalvaeFileError, match=r"gr3.fits: header BANDS='gr' names 2 band\(s\) but the cube has 3"):
        read_fits(tmp_path / "gr3.fits")


def test_fits_harmless_astropy_warnings_are_not_errors(tmp_path, rng):
    # Extra bytes after the last HDU make astropy warn ("Unexpected extra
    # padding"); the data are whole, so the file must be read, not refused.
    data = _cube(rng, h=16, w=16)
    padded = _write_cube(tmp_path / "padded.fits", data)
    with open(padded, "ab") as fh:
        fh.write(b"\0" * 100)
    d = read_fits(padded)
    np.testing.assert_array_equal(d.image, data)
    assert d.bands_present == ("g", "r", "z")


SCALE = 0.262  # arcsec per pixel
TAN = {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 150.0, "CRVAL2": 2.0, "CRPIX1": 10.0, "CRPIX2": 12.0}


def _wcs_file(path, cards, rng=None):
    data = np.ones((3, 20, 24), np.float32)
    hdu = fits.PrimaryHDU(data)
    hdu.header["BANDS"] = "grz"
    for key, value in cards.items():
        hdu.header[key] = value
    hdu.writeto(path)
    return path


def _rotation(theta_deg):
    t = np.radians(theta_deg)
    return np.array([[-np.cos(t), np.sin(t)], [np.sin(t), np.cos(t)]])  # east to the left: x flipped


def test_pixel_scale_from_cdelt_and_rotating_pc_matrix(tmp_path):
    pc = _rotation(30.0) * np.array([[-1.0], [1.0]])  # a pure rotation; the flip goes in CDELT1
    cards = {**TAN, "CDELT1": -SCALE / 3600, "CDELT2": SCALE / 3600}
    cards.update({f"PC{i + 1}_{j + 1}": float(pc[i, j]) for i in range(2) for j in range(2)})
    assert read_fits(_wcs_file(tmp_path / "pc.fits", cards)).pixel_scale_arcsec == pytest.approx(SCALE, rel=1e-9)
    # the hand parsing this replaced read |CDELT1| and would agree here; with CROTA2 too
    crota = {**TAN, "CDELT1": -SCALE / 3600, "CDELT2": SCALE / 3600, "CROTA2": 30.0}
    assert read_fits(_wcs_file(tmp_path / "crota.fits", crota)).pixel_scale_arcsec == pytest.approx(SCALE, rel=1e-9)


def test_pixel_scale_from_rotated_cd_matrix(tmp_path):
    cd = _rotation(30.0) * SCALE / 3600  # CD1_1 = -s cos 30 alone would give 0.227
    cards = {**TAN, **{f"CD{i + 1}_{j + 1}": float(cd[i, j]) for i in range(2) for j in range(2)}}
    assert read_fits(_wcs_file(tmp_path / "cd.fits", cards)).pixel_scale_arcsec == pytest.approx(SCALE, rel=1e-9)


@pytest.mark.parametrize("celestial", [True, False], ids=["RA-DEC", "no-CTYPE"])
def test_pixel_scale_cunit_arcsec_and_deg_agree(tmp_path, celestial):
    base = TAN if celestial else {}
    deg = {**base, "CDELT1": -SCALE / 3600, "CDELT2": SCALE / 3600, "CUNIT1": "deg", "CUNIT2": "deg"}
    arcsec = {**base, "CDELT1": -SCALE, "CDELT2": SCALE, "CUNIT1": "arcsec", "CUNIT2": "arcsec"}
    # the hand parsing this replaced took CDELT1 as degrees: 943" for the arcsec header
    in_deg = read_fits(_wcs_file(tmp_path / "deg.fits", deg)).pixel_scale_arcsec
    in_arcsec = read_fits(_wcs_file(tmp_path / "arcsec.fits", arcsec)).pixel_scale_arcsec
    assert in_deg == pytest.approx(SCALE, rel=1e-9) and in_arcsec == pytest.approx(SCALE, rel=1e-9)
    # without CUNIT the axes are degrees, as the FITS standard has it for celestial axes
    bare = {**base, "CD1_1": -SCALE / 3600, "CD2_2": SCALE / 3600}
    assert read_fits(_wcs_file(tmp_path / "bare.fits", bare)).pixel_scale_arcsec == pytest.approx(SCALE, rel=1e-9)


def test_pixel_scale_without_wcs_is_pixscale_or_unknown(tmp_path):
    assert np.isnan(read_fits(_wcs_file(tmp_path / "none.fits", {})).pixel_scale_arcsec)
    assert np.isnan(read_fits(_wcs_file(tmp_path / "ctype.fits", TAN)).pixel_scale_arcsec)  # no scale card
    assert read_fits(_wcs_file(tmp_path / "pix.fits", {"PIXSCALE": 0.396})).pixel_scale_arcsec == 0.396


@pytest.mark.parametrize(
    ("cards", "message"),
    [
        ({**TAN, "CDELT1": 0.0, "CDELT2": SCALE / 3600}, r"header WCS gives no pixel scale \(.*singular"),
        ({**TAN, "CD1_1": "abc", "CD2_2": SCALE / 3600}, r"header WCS card cannot be read \(CD1_1 = 'abc"),
        ({"CDELT1": 0.262, "CDELT2": 0.262, "CUNIT1": "m", "CUNIT2": "m"}, r"axis 1 is in m, not an angle"),
        ({**TAN, "CDELT1": 1.0, "CDELT2": 1.0, "CUNIT1": "furlong"}, r"header WCS gives no pixel scale"),
    ],
    ids=["singular", "unreadable-card", "not-an-angle", "unknown-unit"],
)
def test_unusable_wcs_is_an_error_naming_the_file(tmp_path, cards, message):
    path = _wcs_file(tmp_path / "bad.fits", cards)
    with pytest.raises(GalvaeFileError, match=message) as info:
        read_fits(path)
    assert str(info.value).startswith(f"{path}: ") and "accepted: CDi_j, or CDELTi with PCi_j" in str(info.value)


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg")])
def test_rgb_channel_mapping(tmp_path, fmt, ext):
    arr = np.zeros((16, 16, 3), dtype=np.uint8)
    arr[..., 0] = 200  # red   -> z
    arr[..., 1] = 120  # green -> r
    arr[..., 2] = 40  # blue  -> g
    Image.fromarray(arr).save(tmp_path / f"a.{ext}", format=fmt, quality=100)
    d = read_rgb(tmp_path / f"a.{ext}")
    assert d.kind == "display" and d.image.shape == (3, 16, 16)
    np.testing.assert_allclose(d.image[:, 8, 8], [40, 120, 200], atol=2)
    assert not d.mask.any()


def test_rgb_errors(tmp_path):
    (tmp_path / "t.png").write_text("not an image")
    with pytest.raises(GalvaeFileError, match="t.png: not a JPEG or PNG"):
        read_rgb(tmp_path / "t.png")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "l.png")
    with pytest.raises(GalvaeFileError, match="l.png: a single-channel"):
        read_rgb(tmp_path / "l.png")
    Image.fromarray(np.full((64, 64, 3), 9, np.uint8)).save(tmp_path / "full.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "full.png").read_bytes()[:60])
    with pytest.raises(GalvaeFileError, match="cut.png: (truncated or damaged|not a JPEG)"):
        read_rgb(tmp_path / "cut.png")
    # a GIF is a real image but not an accepted format
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "g.png", format="GIF")
    with pytest.raises(GalvaeFileError, match="g.png: not a JPEG or PNG"):
        read_rgb(tmp_path / "g.png")


def test_arrays(tmp_path, rng):
    data = _cube(rng)
    np.save(tmp_path / "a.npy", data)
    np.testing.assert_array_equal(read_array(tmp_path / "a.npy").image, data)
    mask = np.zeros((20, 24), bool)
    mask[1, 1] = True
    np.savez(tmp_path / "b.npz", image=data, mask=mask)
    d = read_array(tmp_path / "b.npz")
    assert d.mask[:, 1, 1].all() and d.mask.sum() == 3 and d.image[0, 1, 1] == 0
    np.savez(tmp_path / "c.npz", whatever=data)
    np.testing.assert_array_equal(read_array(tmp_path / "c.npz").image, data)
    assert read_array_kind(tmp_path, rng) == "display"


def read_array_kind(tmp_path, rng):
    np.save(tmp_path / "u8.npy", (rng.random((3, 16, 16)) * 255).astype(np.uint8))
    return read_array(tmp_path / "u8.npy").kind


def test_array_errors(tmp_path):
    np.save(tmp_path / "v.npy", np.ones(10))
    with pytest.raises(GalvaeFileError, match=r"v.npy: array has shape \(10,\)"):
        read_array(tmp_path / "v.npy")
    np.save(tmp_path / "four.npy", np.ones((4, 16, 16)))
    with pytest.raises(GalvaeFileError, match=r"four.npy: array has shape \(4, 16, 16\); expected \(3, H, W\)"):
        read_array(tmp_path / "four.npy")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(GalvaeFileError, match="bad.npz: not a readable numpy file"):
        read_array(tmp_path / "bad.npz")
    np.savez(tmp_path / "two.npz", a=np.ones((3, 8, 8)), b=np.ones((3, 8, 8)))
    with pytest.raises(GalvaeFileError, match="two.npz: npz holds arrays"):
        read_array(tmp_path / "two.npz")


def test_dispatch(tmp_path, rng):
    data = _cube(rng)
    _write_cube(tmp_path / "x.fits", data)
    np.save(tmp_path / "x.npy", data)
    np.testing.assert_array_equal(read_image(tmp_path / "x.fits").image, read_image(tmp_path / "x.npy").image)
    (tmp_path / "x.tiff").write_bytes(b"")
    with pytest.raises(GalvaeFileError, match="x.tiff: unknown image type '.tiff'"):
        read_image(tmp_path / "x.tiff")
