"""One self-contained HTML file summarising a galvae run.

:func:`write_report` reads the products the galvae commands write (Table 3
from ``galvae classify``, Table 4 and the domain summary from ``galvae
compare-domains``, the SSIM sweep from ``galvae sweep``, image stores,
reconstructions, labels, latent catalogues, ``galvae outliers`` and mock
stores) and writes ``report.html``: inline CSS, a table of contents, the
paper's published numbers next to this run's, and every figure embedded as
a base64 PNG ``data:`` URI, so the file opens offline in any browser and
can be mailed as one attachment.  A Content-Security-Policy forbids any
other resource, so nothing is ever fetched from the network.

Every product is optional: a section whose input is missing says "not
run".  A product that exists but cannot be read gives an error box in its
section (and a warning in the log) unless ``strict=True``.

Each ``_section_*`` function computes what its section shows (tables as
``_Table``, figures as ``_Figure``, sentences as strings; the measurements
themselves come from :mod:`galvae.evaluate`) and renders it through its
Jinja2 template in ``templates/sections/``; ``templates/page.html.j2`` lays
out the page.  The templates autoescape, so a value read from a product is
always shown as text.
"""

from __future__ import annotations

import base64
import datetime as _dt
import importlib.metadata
import io
import json
import logging
import math
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup

from .._io import write_text
from .._validate import check_choice, check_int
from .._version import __version__
from ..data.labels import BROAD_CLASSES, broad_class
from ..errors import GalvaeError, GalvaeFileError, GalvaeValueError
from ..evaluate import paper
from ..evaluate.domains import COLUMNS as _T4_RUN_COLUMNS
from ..evaluate.domains import CONTROL_COLUMNS as _T4_CONTROL_COLUMNS
from ..evaluate.domains import heldout_pairs_phrase, upgrade_table4

__all__ = [
    "EMBEDDINGS",
    "ReportInputs",
    "collect_versions",
    "write_report",
]

log = logging.getLogger(__name__)

EMBEDDINGS = ("pca", "tsne", "both")

#: The paper's numbers shown beside this run's are those of :mod:`galvae.evaluate.paper`, in the report's words.
_PAPER_SSIM = "{:.2f}–{:.2f}".format(*paper.SSIM_RANGE)
_PAPER_NL = paper.KNEE_LATENT_DIM
_PAPER_N = f"{paper.N_GALAXIES // 1000}k"
_T4_COLS = _T4_RUN_COLUMNS + _T4_CONTROL_COLUMNS
_PAPER_T3_LOW, _PAPER_T3_HIGH = (int(f(r["accuracy"] for r in paper.TABLE3.values())) for f in (min, max))
#: Table 3 features where the paper's forests beat its Table 2 majority rate by 10 points or more (4 of 9).
_PAPER_T3_LIFTED = sum(r["accuracy"] - 100 * paper.majority_rate(f) >= 10 for f, r in paper.TABLE3.items())
_PAPER_T4_UP = sum(r["target_after"] > r["target_before"] for r in paper.TABLE4.values())

_PathLike = str | os.PathLike


def _opt_path(v: Any, name: str) -> Path | None:
    if v is None:
        return None
    if isinstance(v, str | os.PathLike):
        return Path(v)
    raise GalvaeValueError(f"ReportInputs.{name} must be a path or None", type(v).__name__)


@dataclass(frozen=True)
class ReportInputs:
    """What goes into the report; every field is optional.

    Parameters
    ----------
    title : str, default "galvae report"
    run_config : mapping, optional
        Run configuration (name → value), shown as a table.
    stage_seconds : mapping, optional
        Stage → wall time in seconds, shown with the total.
    versions : mapping, optional
        Package → version; default :func:`collect_versions`.
    table3_csv : path, optional
        ``table3.csv`` of ``galvae classify``.
    table4_csv : path, optional
        ``table4.csv`` of ``galvae compare-domains`` (``feature``,
        ``classes``, ``total``, ``source_before``, ``target_before``,
        ``target_after``, ``source_after``; fractions or per cent).
    domains_json : path, optional
        Summary JSON of ``galvae compare-domains`` (any keys; scalars and
        one level of nesting are shown).
    pair_galleries : sequence of paths, default ()
        Fig. 5-style PNGs of the same galaxies in both surveys.
    mse_histogram : path, optional
        PNG of the paired latent MSE histogram.
    sweep_csv : path, optional
        ``sweep.csv`` of ``galvae sweep``.
    store : path, optional
        Image store of the originals.
    reconstructions : path, optional
        Image store of their reconstructions (``galvae reconstruct``).
    split : path, optional
        ``split.json`` of the training run (``galvae train``): the claims'
        SSIM is then measured on its validation galaxies, which the model
        never trained on (else on the first 2000 galaxies of the store).
    labels : path, optional
        Table 2 labels (``galvae labels``) or a Galaxy Zoo catalogue.
    truth : path, optional
        The catalogue of ``galvae simulate`` (its ``truth_*`` columns): with
        ``labels``, each Table 2 class's completeness and purity against the
        simulated truth (:func:`galvae.simulate.votes.selection_purity`).
    latents : path, optional
        Latent catalogue (``galvae encode``).
    outliers_dir : path, optional
        Output directory of ``galvae outliers``.
    mocks : mapping survey → path, optional
        Image stores of mock galaxies (``galvae generate``), one per decoder.
    explorer : path, optional
        ``index.html`` of an explorer page (``galvae explore``), linked from
        the latent-map section by its path relative to the report.
    translation_dir : path, optional
        Output directory of ``galvae translate --compare``
        (:func:`galvae.evaluate_translation`): its ``translation.csv``,
        ``translation.json`` and ``translation_gallery.png``.
    date : str, optional
        Shown in the header; default now (UTC).
    """

    title: str = "galvae report"
    run_config: Mapping[str, Any] | None = None
    stage_seconds: Mapping[str, float] | None = None
    versions: Mapping[str, str] | None = None
    table3_csv: _PathLike | None = None
    table4_csv: _PathLike | None = None
    domains_json: _PathLike | None = None
    pair_galleries: Sequence[_PathLike] = ()
    mse_histogram: _PathLike | None = None
    sweep_csv: _PathLike | None = None
    store: _PathLike | None = None
    reconstructions: _PathLike | None = None
    split: _PathLike | None = None
    labels: _PathLike | None = None
    truth: _PathLike | None = None
    latents: _PathLike | None = None
    outliers_dir: _PathLike | None = None
    mocks: Mapping[str, _PathLike] | None = None
    explorer: _PathLike | None = None
    translation_dir: _PathLike | None = None
    realism_dir: _PathLike | None = None
    date: str | None = None

    def __post_init__(self) -> None:
        for name in (
            "table3_csv",
            "table4_csv",
            "domains_json",
            "mse_histogram",
            "sweep_csv",
            "store",
            "reconstructions",
            "split",
            "labels",
            "truth",
            "latents",
            "outliers_dir",
            "explorer",
            "translation_dir",
            "realism_dir",
        ):
            object.__setattr__(self, name, _opt_path(getattr(self, name), name))
        if isinstance(self.pair_galleries, str | os.PathLike) or not isinstance(self.pair_galleries, Sequence):
            raise GalvaeValueError(
                "ReportInputs.pair_galleries must be a sequence of paths", type(self.pair_galleries).__name__
            )
        object.__setattr__(self, "pair_galleries", tuple(_opt_path(p, "pair_galleries") for p in self.pair_galleries))
        for name in ("run_config", "stage_seconds", "versions", "mocks"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, Mapping):
                raise GalvaeValueError(f"ReportInputs.{name} must be a mapping or None", type(v).__name__)
        if self.mocks is not None:
            object.__setattr__(self, "mocks", {str(k): _opt_path(v, f"mocks[{k!r}]") for k, v in self.mocks.items()})
        if self.stage_seconds is not None:
            secs: dict[str, float] = {}
            for k, v in self.stage_seconds.items():
                try:
                    secs[str(k)] = float(v)
                except (TypeError, ValueError):
                    raise GalvaeValueError(f"ReportInputs.stage_seconds[{k!r}] must be a number", v) from None
            object.__setattr__(self, "stage_seconds", secs)


# --------------------------------------------------------------------------- helpers


def collect_versions() -> dict[str, str]:
    """Versions of Python, galvae and the main libraries ("not installed" when absent)."""
    out = {"python": platform.python_version(), "galvae": __version__}
    for label, dist in (
        ("torch", "torch"),
        ("lightning", "lightning"),
        ("galsim", "GalSim"),
        ("numpy", "numpy"),
        ("scikit-learn", "scikit-learn"),
        ("pandas", "pandas"),
        ("h5py", "h5py"),
        ("matplotlib", "matplotlib"),
    ):
        try:
            out[label] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[label] = "not installed"
    out["platform"] = platform.platform(terse=True)
    return out


# --------------------------------------------------------------------------- what the templates draw
#
# The sections compute data (the dataclasses below, plain strings and numbers); the Jinja2 templates in
# ``templates/`` turn them into markup, with autoescaping, so no value read from a product can inject HTML.

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("galvae.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _render(template: str, **context: Any) -> Markup:
    """``templates/<template>`` rendered with ``context`` (autoescaped)."""
    return Markup(_ENV.get_template(template).render(**context))


@dataclass(frozen=True)
class _Cell:
    """A styled table cell: ``style`` "bold", or a badge class ("ok", "error", "pending")."""

    text: str
    style: str


@dataclass(frozen=True)
class _Table:
    """A table: ``rows`` of cells (text or :class:`_Cell`); all but the first column right-aligned."""

    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""
    groups: Sequence[tuple[str, int]] = ()
    first_col_text: bool = True


@dataclass(frozen=True)
class _Figure:
    """An embedded PNG figure, numbered in the order the report made it."""

    number: int
    uri: str
    caption: str
    alt: str


@dataclass(frozen=True)
class _NotRun:
    """A section (or part of one) whose product was not given: what it needs, and the missing path."""

    what: str
    path: Path | None = None


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        f = float(v)
        if not math.isfinite(f):
            return "–"
        if f != 0 and (abs(f) >= 1e5 or abs(f) < 10**-digits):
            return f"{f:.{digits}g}"
        return f"{f:.{digits}f}"
    return str(v)


def _pct(v: Any, digits: int = 1) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(f) else f"{f:.{digits}f} %"


def _kv_table(d: Mapping[str, Any], caption: str = "") -> _Table:
    """A name → value table; nested values are shown as JSON."""
    rows = []
    for k, v in d.items():
        if isinstance(v, Mapping | list | tuple):
            v = json.dumps(v, default=str)
        rows.append([k, _fmt(v)])
    return _Table(["name", "value"], rows, caption=caption)


def _png_bytes_from_file(path: Path, max_width: int) -> bytes:
    from PIL import Image

    data = path.read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise GalvaeFileError(path, "not a PNG image")
    with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
        im.load()
        if im.width <= max_width:
            return data
        h = max(1, round(im.height * max_width / im.width))
        small = im.convert("RGBA" if "A" in im.getbands() else "RGB").resize((max_width, h), Image.LANCZOS)
    buf = io.BytesIO()
    # zlib level 6 without PIL's optimize pass: the demo's 8 large galleries in 0.6 s instead of 3.5 s,
    # for 3 % more bytes (1.95 MB against 1.89 MB for those 8)
    small.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


class _Report:
    """Accumulates sections and figure numbers."""

    def __init__(self, dpi: int, max_width: int) -> None:
        self.dpi = dpi
        self.max_width = max_width
        self.n_fig = 0
        self.n_bytes = 0

    def figure(self, png: bytes, caption: str, alt: str) -> _Figure:
        self.n_fig += 1
        self.n_bytes += len(png)
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        return _Figure(self.n_fig, uri, caption, alt)

    def fig_obj(self, fig: Any, caption: str, alt: str) -> _Figure:
        from ..plots.report import figure_png

        return self.figure(figure_png(fig, self.dpi), caption, alt)

    def fig_file(self, path: Path, caption: str, alt: str) -> _Figure:
        return self.figure(_png_bytes_from_file(path, self.max_width), caption, alt)


def _not_run(what: str, path: Path | None = None) -> Markup:
    """A whole section that says "not run"."""
    return _render("sections/not_run.html.j2", not_run=_NotRun(what, path))


def _exists(path: Path | None) -> bool:
    if path is None:
        return False
    if not path.exists():
        log.warning("report: %s not found; its section says 'not run'", path)
        return False
    return True


def _read_csv(path: Path, required: Sequence[str]) -> Any:
    """A CSV product (:func:`galvae.data.tables.read_table`) that must have the ``required`` columns."""
    from ..data.tables import read_table

    df, _ = read_table(path, format="csv")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise GalvaeFileError(path, f"missing column(s) {', '.join(missing)}; has {', '.join(map(str, df.columns))}")
    return df


def _read_json(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise GalvaeFileError(path, f"unreadable JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise GalvaeFileError(path, "expected a JSON object")
    return obj


# --------------------------------------------------------------------------- classes


def _load_classes(path: Path) -> Any:
    """id → broad class (:func:`galvae.data.labels.broad_class`) from a labels table or catalogue."""
    from ..data.tables import read_catalog

    df = read_catalog(path)
    if "id" not in df.columns:
        raise GalvaeFileError(path, "labels table has no 'id' column")
    s = broad_class(df)
    s.index = df["id"].astype(str).to_numpy()
    return s[~s.index.duplicated()]


# --------------------------------------------------------------------------- sections


def _section_header(inp: ReportInputs, rep: _Report) -> Markup:
    stages = None
    if inp.stage_seconds:
        rows: list[list[Any]] = [[k, _fmt(v, 1), _dur(v)] for k, v in inp.stage_seconds.items()]
        total = sum(inp.stage_seconds.values())
        rows.append([_Cell("total", "bold"), _fmt(total, 1), _dur(total)])
        stages = _Table(["stage", "seconds", "wall time"], rows)
    versions = dict(inp.versions) if inp.versions is not None else collect_versions()
    return _render(
        "sections/run.html.j2",
        config=_kv_table(inp.run_config) if inp.run_config else None,
        versions=_kv_table(versions),
        stages=stages,
    )


def _dur(s: float) -> str:
    s = float(s)
    if not math.isfinite(s):
        return "–"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else (f"{m} min {sec:02d} s" if m else f"{sec} s")


_T3_HEADER = [
    "feature",
    "classes",
    "N test",
    "majority",
    "majority",
    "acc",
    "P",
    "R",
    "F1",
    "acc",
    "P",
    "R",
    "F1",
    "F1 macro",
    "Δacc",
    "acc",
    "F1",
    "acc",
    "F1",
]
_T3_GROUPS = [("", 3), ("run", 1), ("paper: VAE + RF", 5), ("this run: VAE + RF", 6), ("PCA + RF", 2), ("CNN", 2)]


def _t3_pct(r: Any, k: str) -> str:
    """Column ``k`` of a Table 3 row in per cent, "–" when absent or not finite."""
    if r is None or k not in r:
        return "–"
    v = float(r[k])
    return f"{100 * v:.1f}" if math.isfinite(v) else "–"


def _t3_acc(r: Any) -> str:
    """A Table 3 accuracy in per cent with its 95 % Wilson interval when ``table3.csv`` has one."""
    cell = _t3_pct(r, "accuracy")
    lo, hi = _t3_pct(r, "accuracy_lo"), _t3_pct(r, "accuracy_hi")
    return f"{cell} ({lo}–{hi})" if cell != "–" and "–" not in (lo, hi) else cell


def _table3_row(feature: str, published: Mapping[str, Any], by_method: Mapping[str, Any]) -> list[str]:
    """One feature's row: its classes and test size, the paper's VAE + RF numbers, this run's and the baselines'."""
    any_row = next(iter(by_method.values()), None)
    vae, pca, cnn = by_method.get("vae"), by_method.get("pca"), by_method.get("cnn")
    delta = "–"
    if vae is not None and "accuracy" in published:
        delta = f"{100 * float(vae['accuracy']) - published['accuracy']:+.1f}"
    k_run = int(any_row["n_classes"]) if any_row is not None and "n_classes" in any_row else None
    k_txt = str(k_run) if k_run is not None else "–"
    if published and k_run is not None and k_run != int(published["n_classes"]):
        k_txt = f"{k_run} (paper {int(published['n_classes'])})"
    elif published and k_run is None:
        k_txt = f"– (paper {int(published['n_classes'])})"
    n_test = _fmt(int(any_row["n_test"])) if any_row is not None and "n_test" in any_row else "not classified"
    paper_cols = [f"{published[k]:.2f}" for k in ("accuracy", "precision", "recall", "f1")] if published else ["–"] * 4
    paper_majority = f"{100 * paper.majority_rate(feature):.1f}" if feature in paper.TABLE2 else "–"
    return [
        feature,
        k_txt,
        n_test,
        _t3_pct(any_row, "majority_rate"),
        paper_majority,
        *paper_cols,
        _t3_acc(vae),
        *(_t3_pct(vae, k) for k in ("precision", "recall", "f1", "f1_macro")),
        delta,
        _t3_pct(pca, "accuracy"),
        _t3_pct(pca, "f1"),
        _t3_pct(cnn, "accuracy"),
        _t3_pct(cnn, "f1"),
    ]


def _table3_notes(meta: Path) -> list[str]:
    """The features ``galvae classify`` skipped and the rare classes it dropped, from its ``classify.json``."""
    notes: list[str] = []
    if not meta.is_file():
        return notes
    try:
        info = _read_json(meta)
        if info.get("skipped"):
            notes.append("Skipped features: " + "; ".join(f"{k} ({v})" for k, v in info["skipped"].items()) + ".")
        if info.get("dropped_classes"):
            notes.append(
                "Dropped rare classes: "
                + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in info["dropped_classes"].items())
                + "."
            )
    except GalvaeFileError as exc:
        log.warning("report: %s", exc)
    return notes


def _labels_table(path: Path) -> Any:
    """A Table 2 labels table from ``path``: read as is, or made from a Galaxy Zoo catalogue as galvae labels would."""
    from ..data.labels import LabelConfig, labels_from_catalog
    from ..data.tables import read_catalog

    df = read_catalog(path)
    if not set(LabelConfig().features) <= set(df.columns):
        df = labels_from_catalog(df)
    return df


def _table2(labels: Any) -> _Table:
    """This run's Table 2 class mix beside the paper's (:func:`galvae.compare_table2`), one row per feature."""
    cmp = paper.compare_table2(labels)
    rows = []
    for feature, g in cmp.groupby("feature", sort=False):
        mix = " · ".join(
            f"{r['class']} {_pct(100 * r['share'], 0) if r['share'] == r['share'] else '–'}"
            f" / {_pct(100 * r['paper_share'], 0)}"
            for _, r in g.iterrows()
        )
        rows.append(
            [
                feature,
                f"{int(g['count'].sum()):,}",
                f"{int(g['paper_count'].sum()):,}",
                mix,
                _fmt(g["total_variation"].iloc[0], 2),
            ]
        )
    return _Table(
        ["feature", "labelled here", "labelled (paper)", "class shares: here / paper", "total variation"],
        rows,
        caption=(
            "Table 2: the labelled galaxies' class mix (each class's share of its feature's labelled galaxies) "
            "beside the paper's GZD-5 sample; total variation 0.5 Σ|share − paper share| (0: the same mix)"
        ),
    )


def _purity_table(labels: Any, truth_path: Path) -> _Table:
    """Completeness and purity of each Table 2 class against the simulated truth, one row per feature."""
    from ..data.tables import read_catalog
    from ..simulate.votes import TRUTH_CATEGORIES, selection_purity

    truth = read_catalog(truth_path)
    missing = [c for c in ("id", *TRUTH_CATEGORIES) if c not in truth.columns]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise GalvaeFileError(
            truth_path, f"is not a galvae simulate catalogue: no column {', '.join(missing[:3])}{more}"
        )
    if "id" not in labels.columns:
        raise GalvaeValueError(
            "the labels need an 'id' column to be matched with the truth", sorted(labels.columns)[:8]
        )
    truth, labels = truth.drop_duplicates("id"), labels.drop_duplicates("id")
    truth.index, labels.index = truth["id"].astype(str).to_numpy(), labels["id"].astype(str).to_numpy()
    ids = labels.index.intersection(truth.index)
    if len(ids) == 0:
        raise GalvaeFileError(truth_path, "shares no galaxy id with the labels")
    pur = selection_purity(truth.loc[ids], labels.loc[ids])
    rows = []
    for feature, g in pur.groupby("feature", sort=False):
        cells = " · ".join(
            f"{r['class']} {_fmt(r['completeness'], 2)} / {_fmt(r['purity'], 2)}" for _, r in g.iterrows()
        )
        rows.append([feature, f"{int(g['n_truth'].sum()):,}", f"{int(g['n_selected'].sum()):,}", cells])
    return _Table(
        ["feature", "true", "selected", "class completeness / purity"],
        rows,
        caption=(
            f"Table 2's thresholds against the simulated truth ({len(ids):,} galaxies): completeness = selected and "
            "true / true, purity = selected and true / selected, per class"
        ),
    )


def _section_table3(inp: ReportInputs, rep: _Report) -> Markup:
    path = inp.table3_csv
    t2, purity, t2_notes = None, None, []
    if _exists(inp.labels):
        try:
            labels = _labels_table(inp.labels)
            t2 = _table2(labels)
            if _exists(inp.truth):
                purity = _purity_table(labels, inp.truth)
        except GalvaeError as exc:  # a labels or truth file Table 2 cannot be read from: say so, keep Table 3
            log.warning("report: Table 2: %s", exc)
            t2_notes.append(f"Table 2's class mix or purity could not be made: {exc}")
    if not _exists(path):
        if t2 is not None:
            return _render("sections/table3.html.j2", t3=None, t2=t2, purity=purity, paper_n=_PAPER_N, notes=t2_notes)
        return _not_run("Table 3 needs the table3.csv of `galvae classify`.", path)
    df = _read_csv(path, ["feature", "method", "accuracy"])
    by: dict[str, dict[str, Any]] = {}
    for _, r in df.iterrows():
        by.setdefault(str(r["feature"]), {})[str(r["method"])] = r
    features = [f for f in paper.TABLE3 if f in by] + [f for f in by if f not in paper.TABLE3]
    features += [f for f in paper.TABLE3 if f not in by]
    rows = [_table3_row(f, paper.TABLE3.get(f, {}), by.get(f, {})) for f in features]
    table = _Table(
        _T3_HEADER,
        rows,
        caption=(
            "Table 3: random forests on the latent means next to the paper's published values (all in per cent;"
            " this run's accuracy with its 95 % Wilson interval over the test galaxies)"
        ),
        groups=_T3_GROUPS,
    )
    return _render(
        "sections/table3.html.j2",
        t3=table,
        t2=t2,
        purity=purity,
        paper_n=_PAPER_N,
        notes=_table3_notes(path.parent / "classify.json") + t2_notes,
    )


def _n_classes(r: Any) -> str:
    """K of a Table 4 row: ``n_classes``, or ``classes`` as a count or comma-separated names."""
    for key in ("n_classes", "classes"):
        v = r.get(key)
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            continue
        try:
            return _fmt(int(float(v)))
        except (TypeError, ValueError):
            names = [c for c in str(v).split(",") if c.strip()]
            if names:
                return _fmt(len(names))
    return "–"


_T4_HEADER = [
    "feature",
    "K",
    "N overlap",
    "run",
    "paper",
    "run",
    "paper",
    "run",
    "paper",
    "run",
    "retrained before DA",
    "DECaLS forest after DA",
]
_T4_GROUPS = [
    ("", 3),
    ("DECaLS, before DA", 2),
    ("BASS+MzLS, before DA", 2),
    ("BASS+MzLS, after DA", 2),
    ("DECaLS, after DA", 1),
    ("controls: BASS+MzLS", 2),
]


def _table4(path: Path) -> _Table:
    """Table 4 of ``galvae compare-domains`` in per cent, each run column beside the paper's."""
    df = upgrade_table4(_read_csv(path, ["feature", "target_before", "target_after"]))
    if "source_before" not in df.columns:
        raise GalvaeFileError(path, "missing column source_before (or decals_before)")
    present = [c for c in _T4_COLS if c in df.columns]
    vals = df[present].apply(lambda s: s.astype(float)).to_numpy()
    scale = 100.0 if np.nanmax(np.abs(vals), initial=0.0) <= 1.0 + 1e-9 else 1.0
    rows = []
    for _, r in df.iterrows():
        p = paper.TABLE4.get(str(r["feature"]), {})
        run = [f"{scale * float(r[c]):.1f}" if c in r and r[c] == r[c] else "–" for c in _T4_COLS]
        published = [f"{p[c]:.2f}" if c in p else "–" for c in _T4_COLS[:3]]
        total = _fmt(int(r["total"])) if "total" in r and r["total"] == r["total"] else "–"
        rows.append([str(r["feature"]), _n_classes(r), total, *_interleave(run[:3], published), *run[3:]])
    seen = set(df["feature"].astype(str))
    for f, p in paper.TABLE4.items():
        if f not in seen:
            published = [f"{p[c]:.2f}" for c in _T4_COLS[:3]]
            rows.append(
                [f, f"– (paper {p['n_classes']:g})", f"– (paper {p['total']:,.0f})", *_interleave(["–"] * 3, published)]
                + ["–"] * 3
            )
    return _Table(
        _T4_HEADER,
        rows,
        caption="Table 4: random-forest accuracy (per cent) on the overlap galaxies before and after domain adaptation",
        groups=_T4_GROUPS,
    )


def _interleave(run: Sequence[str], published: Sequence[str]) -> list[str]:
    """``run[0], published[0], run[1], published[1], …``."""
    return [x for pair in zip(run, published, strict=True) for x in pair]


def _domain_figures(inp: ReportInputs, rep: _Report) -> list[_Figure]:
    """The paired-MSE histogram and the Fig. 5-style pair galleries that exist."""
    figs = []
    if _exists(inp.mse_histogram):
        figs.append(
            rep.fig_file(
                inp.mse_histogram,
                "Paired latent MSE of the same galaxies in DECaLS and BASS+MzLS, before and after domain adaptation.",
                "paired latent MSE histogram",
            )
        )
    for p in inp.pair_galleries:
        if _exists(p):
            figs.append(
                rep.fig_file(
                    p,
                    f"Fig. 5-style pairs ({p.stem}): the same galaxies in DECaLS and BASS+MzLS.",
                    f"pair gallery {p.stem}",
                )
            )
    return figs


def _section_domains(inp: ReportInputs, rep: _Report) -> Markup:
    table4 = _table4(inp.table4_csv) if _exists(inp.table4_csv) else None
    summary = _domains_summary(_read_json(inp.domains_json)) if _exists(inp.domains_json) else None
    figures = _domain_figures(inp, rep)
    return _render(
        "sections/domains.html.j2",
        table4=table4,
        table4_missing=_NotRun("Table 4 needs the table4.csv of `galvae compare-domains`.", inp.table4_csv),
        n_overlap=f"{paper.N_OVERLAP:,}",
        min_galaxies=paper.TABLE4_MIN_GALAXIES,
        summary=summary,
        summary_missing=_NotRun("No domain summary (domains.json).", inp.domains_json),
        figures=figures,
        figures_missing=(
            _NotRun("No pair galleries or MSE histogram were given.")
            if not figures and inp.mse_histogram is None and not inp.pair_galleries
            else None
        ),
    )


def _flatten(d: Mapping[str, Any], prefix: str = "", depth: int = 3) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            if depth > 1:
                flat.update(_flatten(v, key + ".", depth - 1))
        elif not isinstance(v, list | tuple):
            flat[key] = v
    return flat


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def _summary_stages(d: Mapping[str, Any]) -> list[str]:
    """The stages of a compare-domains summary: those listed under ``stages``, then any keyed in its blocks."""
    mse, mmd, defects = d.get("mse"), d.get("mmd2"), d.get("defects")
    stages: list[str] = []
    listed = d.get("stages")
    if isinstance(listed, Mapping):
        listed = list(listed)
    for st in (listed if isinstance(listed, list) else []) + [
        k for x in (mse, mmd, defects) if isinstance(x, Mapping) for k in x
    ]:
        if isinstance(st, str) and st not in stages:
            stages.append(st)
    return stages


def _domains_summary(d: Mapping[str, Any]) -> dict[str, Any]:
    """The summary of ``galvae compare-domains``, read defensively: a table per stage and a sentence above it."""
    mse, mmd, defects = d.get("mse"), d.get("mmd2"), d.get("defects")
    if not any(isinstance(x, Mapping) and x for x in (mse, mmd)):
        return {"table": _kv_table(_flatten(d), caption="Summary of galvae compare-domains"), "head": None}
    stages = _summary_stages(d)
    held = d.get("heldout") if isinstance(d.get("heldout"), Mapping) else {}
    top_frac = next((_get(defects, st, "fraction") for st in stages if _get(defects, st, "fraction") is not None), None)
    top_name = f"top {100 * float(top_frac):g} % MSE" if top_frac is not None else "highest MSE"

    def share(st: str, which: str) -> str:
        v = _get(defects, st, which, "share")
        return _pct(100 * v) if v is not None else "–"

    rows = [
        [
            st,
            *(_fmt(_get(mse, st, k)) for k in ("median", "mean", "min", "max")),
            _fmt(_get(mmd, st) if not isinstance(_get(mmd, st), Mapping) else None, 4),
            _fmt(_get(mse, st, "paired_over_random"), 3),
            _fmt(_get(held, st, "paired_over_random"), 3),
            share(st, "all"),
            share(st, "top"),
            _fmt(_get(defects, st, "enrichment"), 2),
        ]
        for st in stages
    ]
    if isinstance(held.get("control"), Mapping):  # the fine-tuning control: held-out pairs only
        rows.append(
            [
                "control (fine-tuned without MMD² and pairs)",
                *["–"] * 6,
                _fmt(_get(held, "control", "paired_over_random"), 3),
            ]
            + ["–"] * 3
        )
    header = [
        "stage",
        "median MSE",
        "mean MSE",
        "min MSE",
        "max MSE",
        "MMD²",
        "paired / random MSE",
        "held-out paired / random",
        "pairs with a defect",
    ]
    table = _Table(
        [*header, f"defects in the {top_name}", "enrichment"],
        rows,
        caption="Paired latent MSE, MMD² between the surveys' latent means, and planted defects among the worst pairs",
    )
    surveys = d.get("surveys") if isinstance(d.get("surveys"), Mapping) else {}
    head = None
    if d.get("n_matched") is not None:
        head = (
            f"{_fmt(d.get('n_matched'))} galaxies seen by both {surveys.get('source', 'source')} and "
            f"{surveys.get('target', 'target')}; MMD² on {_fmt(d.get('mmd_points'))} pairs. Paired / random: the "
            "median latent MSE of the same galaxy over that of two different galaxies (scale-free)"
            + (
                f"; held-out: on the {_fmt(held.get('n'))} {heldout_pairs_phrase(held)} "
                f"({_fmt(held.get('gain'), 2)}× lower after"
                + (
                    f"; {_fmt(held.get('gain_control'), 2)}× for the control, the same fine-tuning without MMD² "
                    f"and the paired term, so the alignment terms add {_fmt(held.get('gain_over_control'), 2)}×"
                    if held.get("gain_over_control") is not None
                    else ""
                )
                + ")."
                if held.get("gain") is not None
                else "."
            )
        )
    return {"table": table, "head": head}


@dataclass(frozen=True)
class _Claim:
    """One claim of the paper: its number, this run's, and whether the run reproduces it (None: not measured)."""

    claim: str
    published: str
    run: str
    ok: bool | None


def _claim_ssim(inp: ReportInputs) -> _Claim:
    """SSIM of the reconstructions, the paper's way (8-bit, L = 255) and ours (float, L = 1)."""
    claim = f"Reconstructions keep the morphology: SSIM at NL = {_PAPER_NL}"
    if not (_exists(inp.store) and _exists(inp.reconstructions)):
        return _Claim(claim, _PAPER_SSIM, "–", None)
    from ..data.store import ImageStore
    from ..evaluate.reconstruction import ssim_paper_and_float

    held = None
    if _exists(inp.split):
        val = _read_json(inp.split).get("val_ids")
        held = [str(i) for i in val] if isinstance(val, list) and val else None
    with ImageStore(inp.store) as st, ImageStore(inp.reconstructions) as rc:
        s_8, s_float, n = ssim_paper_and_float(st, rc, ids=held, return_n=True)
    where = f"{n} held-out galaxies" if held is not None else f"{n} galaxies, training ones included"
    return _Claim(
        claim,
        f"{_PAPER_SSIM} (8-bit, L = 255)",
        f"{s_8:.3f} (8-bit, L = 255); {s_float:.3f} (float, L = 1); {where}",
        s_8 >= paper.SSIM_RANGE[0],
    )


def _claim_latents(info: Mapping[str, Any]) -> _Claim:
    """Active units and KL per galaxy of the latent catalogue."""
    kl = f", {info['kl_total']:.1f} nats per galaxy" if "kl_total" in info else ""
    return _Claim(
        "The latents hold information (active units: Var μ_d > 0.01)",
        f"not given (NL = {_PAPER_NL} all used)",
        f"{info['active_units']} of {info['latent_dim']}{kl}",
        info["active_units"] >= min(20, info["latent_dim"] // 2),
    )


def _sweep_scores(path: Path, run_dir: Any) -> Any:
    """Per-galaxy SSIM of one sweep run (its ``ssim_<ids>.csv``: ``id``, ``ssim``), or None."""
    import pandas as pd

    if not isinstance(run_dir, str) or not run_dir:
        return None
    for run in (Path(run_dir), path.parent / Path(run_dir).name):  # the sweep directory may have moved
        files = sorted(run.glob("ssim_*.csv"), key=lambda f: f.name != "ssim_val.csv") if run.is_dir() else []
        if files:
            try:
                return pd.read_csv(files[0], dtype={"id": str}).set_index("id")["ssim"]
            except (OSError, ValueError, KeyError):
                return None
    return None


def _claim_sweep(path: Path, loss: str | None = None) -> _Claim:
    """SSIM rising with NL to a knee, for ``loss`` (default the sweep's first; named in the claim when the
    sweep has several, as the paper's Fig. 3 has MSE and MAE).

    The rise from the smallest to the largest NL must exceed twice its standard error, or a flat curve whose
    knee is noise would pass.  With several models per NL (``n_models`` > 1, ``galvae sweep --repeats``) the
    error is that of the two means over the models, from their ``ssim_model_std``: it holds the spread between
    trainings, which decides where a knee falls.  With one model: from the per-galaxy scores of both runs when
    the sweep kept them (the same galaxies at every NL: the paired difference), else from each row's
    ``ssim_std`` and ``n_eval`` as if the two means were independent (conservative).
    """
    from ..evaluate.sweep import find_knee

    df = _read_csv(path, ["latent_dim", "loss", "ssim_mean"])
    loss = str(df["loss"].iloc[0]) if loss is None else loss
    g = df[df["loss"] == loss].sort_values("latent_dim")
    several = df["loss"].nunique() > 1
    knee = find_knee(g["latent_dim"], g["ssim_mean"])
    y = g["ssim_mean"].to_numpy(dtype=float)
    rising = bool(np.all(np.diff(y) > -0.005))
    rise = f"SSIM {y[0]:.3f} → {y[-1]:.3f}"
    se, how = math.nan, ""
    if {"n_models", "ssim_model_std"} <= set(g.columns) and len(g) > 1 and (g["n_models"] > 1).all():
        sd, r = g["ssim_model_std"].to_numpy(dtype=float), g["n_models"].to_numpy(dtype=float)
        if np.isfinite(sd[[0, -1]]).all():
            se = float(np.sqrt(sd[0] ** 2 / r[0] + sd[-1] ** 2 / r[-1]))
            how = f", over {int(r[0])} models per NL"
    if not math.isfinite(se) and "run_dir" in g.columns and len(g) > 1:
        lo, hi = (_sweep_scores(path, g["run_dir"].iloc[k]) for k in (0, -1))
        if lo is not None and hi is not None:
            d = (hi - lo).dropna()
            if len(d) > 1:
                se, how = float(d.std(ddof=1) / math.sqrt(len(d))), f", paired over {len(d)} galaxies"
    if not math.isfinite(se) and {"ssim_std", "n_eval"} <= set(g.columns) and len(g) > 1:
        sd, n = g["ssim_std"].to_numpy(dtype=float), g["n_eval"].to_numpy(dtype=float)
        se, how = float(np.sqrt(sd[0] ** 2 / n[0] + sd[-1] ** 2 / n[-1])), ""
    if math.isfinite(se):
        rising = rising and bool((y[-1] - y[0]) > 2 * se)
        rise = f"SSIM {y[0]:.3f} → {y[-1]:.3f} (rise {y[-1] - y[0]:+.4f} ± {se:.4f}{how})"
    # how long each model trained says what the curve compares: NL at a few epochs (how fast a model learns) or
    # at convergence (what NL latents hold; benchmarks/science.md, "The sweep at convergence")
    epochs = g["epochs"].dropna().unique() if "epochs" in g.columns else []
    trained = f", {int(epochs[0])} epochs per model" if len(epochs) == 1 else ""
    return _Claim(
        "SSIM rises with NL to a knee" + (f" ({loss.upper()})" if several else ""),
        f"knee at NL ≈ {_PAPER_NL}",
        f"knee {'none' if knee is None else f'NL = {knee:g}'}; {rise} over NL "
        f"{int(g['latent_dim'].iloc[0])}–{int(g['latent_dim'].iloc[-1])}{trained}",
        bool(rising and knee is not None and 20 <= knee <= 60),
    )


def _claims_table3(path: Path) -> list[_Claim]:
    """Table 3: accuracy of the forests, their gain over the majority class, and the PCA baseline."""
    import pandas as pd

    t3 = _read_csv(path, ["feature", "method", "accuracy"])
    vae = t3[t3["method"] == "vae"].set_index("feature")
    acc = vae["accuracy"].astype(float)
    out = [
        _Claim(
            "Random forests on the latents classify Table 2 features",
            f"{_PAPER_T3_LOW}–{_PAPER_T3_HIGH} % test accuracy",
            f"{100 * acc.min():.0f}–{100 * acc.max():.0f} % over {len(acc)} features",
            bool(acc.min() >= _PAPER_T3_LOW / 100),
        )
    ]
    if "majority_rate" in vae.columns:
        gain = acc - vae["majority_rate"].astype(float)
        lifted = int((gain >= 0.10).sum())
        out.append(
            _Claim(
                "… well above always guessing the commonest class",
                f"{_PAPER_T3_LIFTED} of {len(paper.TABLE3)} features ≥ majority + 10 points "
                "(majority from Table 2's sizes)",
                f"{lifted} of {len(acc)} features ≥ majority + 10 points",
                lifted >= _PAPER_T3_LIFTED * len(acc) / len(paper.TABLE3),
            )
        )
    pca = t3[t3["method"] == "pca"].set_index("feature")["accuracy"].astype(float)
    if len(pca):
        common = acc.index.intersection(pca.index)
        wins = int((acc[common] >= pca[common] - 1e-9).sum())
        value = f"latents ≥ PCA-{_PAPER_NL} on {wins} of {len(common)} features"
        if "mcnemar_p" in t3.columns:  # paired test on the same test galaxies (galvae.evaluate.classify.mcnemar)
            rows = t3[t3["method"] == "pca"].set_index("feature").loc[common]
            p = pd.to_numeric(rows["mcnemar_p"], errors="coerce")
            below = int(((p < 0.05) & (acc[common] < pca[common])).sum())
            above = int(((p < 0.05) & (acc[common] > pca[common])).sum())
            value += f"; significantly below on {below}, above on {above} (McNemar p < 0.05)"
        out.append(
            _Claim(
                f"… and as well as {_PAPER_NL} PCA components of the pixels",
                "not given",
                value,
                wins == len(common),
            )
        )
    return out


def _claims_table4(path: Path) -> list[_Claim]:
    """Table 4: the target survey after DA against before, and against the retrained-forest control."""
    t4 = _read_csv(path, ["feature", "target_before", "target_after"])
    half = max(1, (len(t4) + 1) // 2)
    after, before = t4["target_after"].astype(float), t4["target_before"].astype(float)
    better = int((after > before).sum())  # strictly: an unchanged accuracy is no improvement
    same = int((after == before).sum())
    out = [
        _Claim(
            "After DA, BASS+MzLS classifies better than before",
            f"{_PAPER_T4_UP} of {len(paper.TABLE4)} features up",
            f"{better} of {len(t4)} features up" + (f", {same} unchanged" if same else "") + _t4_training(t4),
            better >= half,
        )
    ]
    if "target_before_retrained" in t4.columns:
        over = int((t4["target_after"].astype(float) > t4["target_before_retrained"].astype(float)).sum())
        out.append(
            _Claim(
                "… beyond what retraining the forest alone gives (control)",
                "not tested by the paper",
                f"{over} of {len(t4)} features above the retrained-before control",
                over >= half,
            )
        )
    if "target_after_source_forest" in t4.columns:
        # a forest on the same DECaLS galaxies before and after DA, applied to the target: only the encoder differs
        aligned = t4["target_after_source_forest"].astype(float)
        up, down = int((aligned > before).sum()), int((aligned < before).sum())
        out.append(
            _Claim(
                "… with the DECaLS forest of the same galaxies, before and after DA (control: the encoder alone)",
                "not tested by the paper",
                f"{up} of {len(t4)} features up, {down} down",
                up >= half,
            )
        )
    return out


def _t4_training(t4: Any) -> str:
    """The two forests' training-set sizes as a parenthesis for the claim ("" without Table 4's count columns)."""
    if not {"n_train", "n_train_source"} <= set(t4.columns):
        return ""

    def span(col: str) -> str:
        v = t4[col].dropna().astype(int)
        return "–" if v.empty else (f"{v.min()}" if v.min() == v.max() else f"{v.min()}–{v.max()}")

    return (
        f" (the retrained forest learns from {span('n_train')} overlap galaxies per feature,"
        f" the DECaLS forest from {span('n_train_source')})"
    )


def _claims_domains(path: Path) -> list[_Claim]:
    """The domain summary: MMD² before and after DA, and paired over random latent MSE."""
    d = _read_json(path)
    out = []
    m = d.get("mmd2") or {}
    if "before" in m and "after" in m:
        # the unbiased MMD² scatters around 0 for samples of one distribution: at or below 0 before adaptation
        # there is nothing to reduce, and a change of sign is noise, not a worse alignment
        flat = m["before"] <= 0
        out.append(
            _Claim(
                "Adaptation aligns the surveys' latents (MMD², one kernel)",
                "reduced (eq. 6)",
                f"{m['before']:.4g} → {m['after']:.4g}"
                + (" (≤ 0 before: the surveys' latent distributions already agree)" if flat else ""),
                None if flat else m["after"] < m["before"],
            )
        )
    mse = d.get("mse") or {}
    held = d.get("heldout") or {}
    where = ""
    if "after" in held:  # judged on the pairs the adaptation did not train on, when known
        mse, where = held, f" (the {held['n']} {heldout_pairs_phrase(held)})"
    pr = [mse.get(s, {}).get("paired_over_random") for s in ("before", "after")]
    if None not in pr:
        out.append(
            _Claim(
                "The same galaxy in two surveys: latent MSE over that of random pairs" + where,
                "MSE {:g}–{:g} before DA".format(*paper.LATENT_MSE_RANGE),
                f"{pr[0]:.3g} → {pr[1]:.3g} ({pr[0] / pr[1]:.2f}× lower)" if pr[1] else f"{pr[0]:.3g} → {pr[1]:.3g}",
                pr[1] * 1.5 <= pr[0],
            )
        )
    if held.get("gain_over_control") is not None:
        out.append(
            _Claim(
                "… of which the alignment terms (against the same fine-tuning without MMD² and pairs)" + where,
                "≥ 1.5× lower than the control",
                f"{held['control']['paired_over_random']:.3g} → {held['after']['paired_over_random']:.3g} "
                f"({held['gain_over_control']:.2f}× lower; the control {held['gain_control']:.2f}× below before)",
                held["gain_over_control"] >= 1.5,
            )
        )
    return out


def _claims_outliers(path: Path) -> list[_Claim]:
    """The flagged fraction of ``galvae outliers`` and the share of defects among them."""
    o = _read_json(path)
    frac = o.get("flagged_fraction")
    if frac is None:
        return []
    precision = o.get("precision")
    return [
        _Claim(
            f"{paper.OUTLIER_SIGMA:g}σ latent outliers are rare and mostly defects",
            f"{100 * paper.OUTLIER_FRACTION:.3f} % of {_PAPER_N}",
            f"{100 * frac:.3f} %"
            + (f", precision {precision:.2f}" if precision is not None else "")
            + (
                f"; the largest |z| ranks the planted defects at AUROC {auroc:.2f}"
                if (auroc := (o.get("auroc") or {}).get("max_abs_z")) is not None
                else ""
            ),
            None if precision is None else bool(precision >= 0.5),
        )
    ]


def _claims(inp: ReportInputs, info: Mapping[str, Any] | None) -> list[_Claim]:
    """Every claim whose product was given, in the order of the paper."""
    claims = [_claim_ssim(inp)]
    if info is not None:
        claims.append(_claim_latents(info))
    if _exists(inp.sweep_csv):
        claims += [
            _claim_sweep(inp.sweep_csv, str(loss)) for loss in _read_csv(inp.sweep_csv, ["loss"])["loss"].unique()
        ]
    if _exists(inp.table3_csv):
        claims += _claims_table3(inp.table3_csv)
    if _exists(inp.table4_csv):
        claims += _claims_table4(inp.table4_csv)
    if _exists(inp.domains_json):
        claims += _claims_domains(inp.domains_json)
    if _exists(inp.outliers_dir) and (inp.outliers_dir / "outliers.json").is_file():
        claims += _claims_outliers(inp.outliers_dir / "outliers.json")
    return claims


def _verdict(ok: bool | None) -> _Cell:
    if ok is None:
        return _Cell("not measured", "pending")
    return _Cell("reproduced", "ok") if ok else _Cell("not reproduced", "error")


def _section_claims(inp: ReportInputs, rep: _Report) -> Markup:
    """One screen: each claim of the paper, its number, this run's, and whether it is reproduced."""
    from ..evaluate.latent_space import latent_information

    info = latent_information(inp.latents) if _exists(inp.latents) else None
    claims = _claims(inp, info)
    if all(c.ok is None for c in claims):
        return _not_run(
            "The claims need the products of the stages (reconstructions, latents, tables 3 and 4, "
            "the sweep, the domain comparison, the outliers)."
        )
    table = _Table(
        ["claim", "paper", "this run", ""],
        [[c.claim, c.published, c.run, _verdict(c.ok)] for c in claims],
        caption="The paper's claims against this run (details in the sections below)",
    )
    cfg = dict(inp.run_config or {})
    keys = ("profile", "field_fraction", "likelihood", "latent_dim", "epochs", "n_galaxies", "size")
    settings = ", ".join(f"{k} = {cfg[k]}" for k in keys if k in cfg)
    kl_figure = None
    if info is not None and "kl_per_dim" in info:
        from ..plots.report import plot_kl_per_dim

        kl_figure = rep.fig_obj(
            plot_kl_per_dim(info["kl_per_dim"]),
            "Mean KL divergence per latent dimension (nats), sorted: the information each "
            "latent holds about a galaxy; a collapsed latent sits at 0.",
            "KL per latent",
        )
    return _render("sections/claims.html.j2", claims=table, settings=settings, kl_figure=kl_figure)


def _sweep_table(df: Any, cats: Sequence[str]) -> _Table:
    """SSIM of each sweep model (or the mean of each NL's models), overall and per first-branch category."""
    repeats = "n_models" in df.columns and bool((df["n_models"] > 1).any())
    header = ["loss", "NL", "N eval", "SSIM mean", "SSIM std"]
    header += ["models", "SSIM std over models"] if repeats else []
    header += [f"SSIM {c}" for c in cats]
    rows = [
        [
            str(r["loss"]).upper(),
            _fmt(int(r["latent_dim"])),
            _fmt(int(r["n_eval"])) if "n_eval" in r else "–",
            _fmt(r["ssim_mean"]),
            _fmt(r.get("ssim_std")),
        ]
        + ([_fmt(int(r["n_models"])), _fmt(r["ssim_model_std"])] if repeats else [])
        + [_fmt(r[f"ssim_{c}"]) for c in cats]
        for _, r in df.iterrows()
    ]
    caption = "SSIM of each sweep model"
    if repeats:
        caption = "SSIM of each NL: the mean over its models (seeds), each averaged over its own held-out galaxies"
    return _Table(header, rows, caption=caption)


def _section_sweep(inp: ReportInputs, rep: _Report) -> Markup:
    from ..evaluate.sweep import CATEGORIES, find_knee
    from ..plots import plot_ssim_per_category
    from ..plots.report import plot_ssim_knee

    path = inp.sweep_csv
    if not _exists(path):
        return _not_run("The SSIM sweep needs the sweep.csv of `galvae sweep`.", path)
    df = _read_csv(path, ["latent_dim", "loss", "ssim_mean"])
    df = df.sort_values(["loss", "latent_dim"], kind="stable").reset_index(drop=True)
    knees: dict[str, float | None] = {}
    for loss, grp in df.groupby("loss", sort=True):
        knees[str(loss)] = find_knee(grp["latent_dim"], grp["ssim_mean"])
    figures = [
        rep.fig_obj(
            plot_ssim_knee(df, knees, paper_nl=_PAPER_NL),
            "Mean SSIM of reconstructions against the latent dimension NL, one line per loss (the paper's Fig. 3); "
            "dashed: the knee found here (Kneedle through kneed: the first maximum of the min–max scaled curve's "
            "height above its chord that the curve then falls back from); "
            f"dotted: the paper's NL = {_PAPER_NL}; bars: the standard deviation over galaxies, or over the models "
            "of each NL when the sweep trained several (galvae sweep --repeats).",
            "SSIM against NL",
        )
    ]
    cats = [c for c in CATEGORIES if f"ssim_{c}" in df.columns and df[f"ssim_{c}"].notna().any()]
    if cats:
        figures.append(
            rep.fig_obj(
                plot_ssim_per_category(df, cats),
                "Mean SSIM per first-branch category against NL (the paper's Fig. 4); solid: first loss, dashed: second.",
                "SSIM per category against NL",
            )
        )
    knee_text = ", ".join(f"{k.upper()}: {'none' if v is None else f'NL = {v:g}'}" for k, v in knees.items())
    return _render(
        "sections/sweep.html.j2",
        figures=figures,
        sweep=_sweep_table(df, cats),
        knee_text=knee_text,
        paper_nl=_PAPER_NL,
        paper_ssim=_PAPER_SSIM,
    )


def _pick_per_class(classes: Any, ids: np.ndarray, per_class: int, seed: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    have = classes.reindex(ids)
    picks: dict[str, list[str]] = {}
    for name in BROAD_CLASSES + tuple(sorted(set(have.dropna()) - set(BROAD_CLASSES))):
        pool = np.asarray(have.index[(have == name).to_numpy(dtype=bool)])
        if len(pool):
            picks[name] = sorted(
                rng.choice(pool, size=min(per_class, len(pool)), replace=False).tolist(),
                key=lambda i: np.flatnonzero(ids == i)[0],
            )
    return picks


def _ssim_table(by_class: Sequence[Mapping[str, Any]]) -> _Table:
    """Count, mean, median and 10th percentile of the SSIM, over all galaxies and per class."""
    rows = [[r["class"], _fmt(r["n"]), _fmt(r["mean"]), _fmt(r["median"]), _fmt(r["p10"])] for r in by_class]
    return _Table(
        ["class", "N", "mean SSIM", "median SSIM", "10th percentile"],
        rows,
        caption="SSIM between each image and the reconstruction of its latent mean",
    )


def _recon_galleries(st: Any, rc: Any, picks: Mapping[str, list[str]], seed: int, rep: _Report) -> list[_Figure]:
    """Original, reconstruction and residual of the picked galaxies of each class, on one residual scale."""
    from ..evaluate.ssim import ssim
    from ..plots.report import plot_reconstructions

    figures, vmax = [], None
    for name, chosen in picks.items():
        a = st.read(st.index_of(chosen))
        b = rc.read(rc.index_of(chosen))
        s = np.atleast_1d(ssim(a, b))
        labels = [f"{i}\nSSIM {v:.3f}" for i, v in zip(chosen, s, strict=True)]
        if vmax is None:
            vmax = max(0.05, float(np.percentile(np.abs((a - b).mean(axis=1)), 99.5)))
        figures.append(
            rep.fig_obj(
                plot_reconstructions(a, b, labels, title=f"{name}", vmax=vmax),
                f"{name}: {len(chosen)} galaxies picked at random (seed {seed}). Top: original; middle: reconstruction "
                f"from the latent mean; bottom: residual (original − reconstruction, mean of g, r, z; same colour "
                f"scale ±{vmax:.2f} in every class). RGB: z → red, r → green, g → blue.",
                f"reconstructions of {name} galaxies",
            )
        )
    return figures


def _section_recon(inp: ReportInputs, rep: _Report, per_class: int, seed: int, max_ssim: int) -> Markup:
    import pandas as pd

    from ..data.store import ImageStore
    from ..evaluate.reconstruction import ssim_by_class, ssim_sample

    if not _exists(inp.store) or not _exists(inp.reconstructions):
        missing = inp.store if not _exists(inp.store) else inp.reconstructions
        return _not_run(
            "The reconstruction gallery needs the image store and its reconstructions (`galvae reconstruct`).", missing
        )
    with ImageStore(inp.store) as st, ImageStore(inp.reconstructions) as rc:
        if st.size != rc.size:
            raise GalvaeFileError(inp.reconstructions, f"image size {rc.size} differs from the store's {st.size}")
        ids = st.ids
        common = np.intersect1d(ids, rc.ids)
        if len(common) == 0:
            raise GalvaeFileError(inp.reconstructions, "no id in common with the image store")
        ids = ids[np.isin(ids, common)]
        if _exists(inp.labels):
            classes = _load_classes(inp.labels)
        else:
            classes = pd.Series(["all"] * len(ids), index=ids, dtype=object)
        scores = ssim_sample(st, rc, ids, max_ssim, seed)
        picks = _pick_per_class(classes, ids, per_class, seed)
        table = _ssim_table(ssim_by_class(scores, classes, list(picks)))
        galleries = _recon_galleries(st, rc, picks, seed, rep)
    sampled = (
        f"SSIM over a seeded random sample of {len(scores):,} of {len(ids):,} galaxies. "
        if len(scores) < len(ids)
        else ""
    )
    return _render(
        "sections/reconstructions.html.j2",
        ssim=table,
        sampled=sampled,
        paper_ssim=_PAPER_SSIM,
        paper_nl=_PAPER_NL,
        no_class=_NotRun("No galaxy of the store has a class in the labels.") if not picks else None,
        galleries=galleries,
    )


def _sample_rows(n: int, n_max: int, seed: int) -> np.ndarray:
    """Indices of (a seeded random sample of ``n_max`` of) ``n`` rows, sorted."""
    rng = np.random.default_rng(seed)
    return np.arange(n) if n <= n_max else np.sort(rng.choice(n, n_max, replace=False))


def _sample_note(kept: int, n: int) -> str:
    return f" (a seeded random sample of {kept:,} of {n:,})" if kept < n else ""


def _pca_map(x: np.ndarray, classes: np.ndarray, seed: int, max_points: int, rep: _Report) -> _Figure:
    """The latent means on their first two principal components, coloured by class."""
    from ..evaluate.latent_space import pca_embedding
    from ..plots.report import plot_latent_map

    keep = _sample_rows(len(x), max_points, seed)
    xy, ev = pca_embedding(x[keep], seed)
    return rep.fig_obj(
        plot_latent_map(
            xy,
            classes[keep],
            title="latent means: PCA",
            xlabel=f"PC 1 ({100 * ev[0]:.1f} % of variance)",
            ylabel=f"PC 2 ({100 * ev[1]:.1f} % of variance)",
            order=BROAD_CLASSES,
        ),
        f"The {x.shape[1]}-dimensional latent means μ{_sample_note(len(keep), len(x))} projected on their first two "
        "principal components, coloured by class (grey: no class).",
        "PCA map of the latent space",
    )


def _tsne_map(x: np.ndarray, classes: np.ndarray, seed: int, max_tsne: int, rep: _Report) -> _Figure:
    """A t-SNE of the latent means, coloured by class."""
    from ..evaluate.latent_space import tsne_embedding
    from ..plots.report import plot_latent_map

    keep = _sample_rows(len(x), max_tsne, seed)
    xy, perplexity = tsne_embedding(x[keep], seed)
    return rep.fig_obj(
        plot_latent_map(
            xy,
            classes[keep],
            title=f"latent means: t-SNE (perplexity {perplexity:.0f})",
            xlabel="t-SNE 1",
            ylabel="t-SNE 2",
            order=BROAD_CLASSES,
        ),
        f"t-SNE of the latent means μ{_sample_note(len(keep), len(x))} (scikit-learn, perplexity {perplexity:.1f}, "
        f"seed {seed}). t-SNE keeps neighbourhoods, not distances: cluster sizes and gaps between clusters mean little.",
        "t-SNE map of the latent space",
    )


def _section_latent_map(
    inp: ReportInputs, rep: _Report, embedding: str, seed: int, max_points: int, max_tsne: int, explorer: str | None
) -> Markup:
    from ..evaluate.inputs import latent_matrix
    from ..latents.catalog import read_latent_catalog

    if not _exists(inp.latents):
        return _not_run("The latent map needs a latent catalogue (`galvae encode`).", inp.latents)
    df, meta = read_latent_catalog(inp.latents)
    x = latent_matrix(df)
    ids = df["id"].astype(str).to_numpy() if "id" in df.columns else np.arange(len(x)).astype(str)
    if len(x) < 3:
        return _not_run(f"The latent catalogue has only {len(x)} galaxies; a map needs at least 3.")
    if _exists(inp.labels):
        classes = _load_classes(inp.labels).reindex(ids).to_numpy(dtype=object)
    else:
        classes = np.full(len(ids), None, dtype=object)
    figures = []
    if embedding in ("pca", "both"):
        figures.append(_pca_map(x, classes, seed, max_points, rep))
    if embedding in ("tsne", "both"):
        figures.append(_tsne_map(x, classes, seed, max_tsne, rep))
    model = meta.get("model") if isinstance(meta, dict) else None
    return _render("sections/latent_map.html.j2", figures=figures, model=model, explorer=explorer)


def _outliers_summary(s: Mapping[str, Any]) -> _Table:
    """Threshold, counts and (with planted defects) precision and recall of ``galvae outliers``, beside the paper."""
    frac = s.get("flagged_fraction")
    rows = [
        [
            "threshold",
            f"{_fmt(s.get('sigma'), 1)} σ ({s.get('centre', 'mean')}, {s.get('scale', 'standard deviation')})",
            f"{paper.OUTLIER_SIGMA:g} σ (mean, standard deviation)",
        ],
        ["galaxies", _fmt(s.get("n_galaxies")), f"≈ {paper.N_GALAXIES:,} (GZ DECaLS)"],
        ["flagged", _fmt(s.get("n_flagged")), f"{paper.OUTLIER_COUNT:,}"],
        ["flagged fraction", _pct(100 * frac, 3) if frac is not None else "–", _pct(100 * paper.OUTLIER_FRACTION, 3)],
    ]
    if "n_defects" in s:
        rows += [
            ["planted defects", _fmt(s.get("n_defects")), "–"],
            ["precision (flagged that are defects)", _fmt(s.get("precision")), "“most were defects”"],
            ["recall (defects flagged)", _fmt(s.get("recall")), "–"],
        ]
        names = {"max_abs_z": "largest |z| of the latents", "recon_error": "reconstruction error"}
        for key, value in (s.get("auroc") or {}).items():
            label = f"AUROC of the {names.get(key, key)} for the defects (0.5: blind to them)"
            rows.append([label, _fmt(value), "–"])
    return _Table(["", "this run", "paper"], rows, caption="Latent-space outliers")


_PR_COUNTS = ("n_flagged", "true_positives", "n_defects")


def _pr_cell(column: str, v: Any) -> str:
    if column == "flagged_fraction":
        return _pct(100 * v, 3)
    if column in _PR_COUNTS:
        return _fmt(int(v))
    return _fmt(v, 1 if column == "k" else 3)


def _outliers_pr(d: Path, s: Mapping[str, Any]) -> _Table | None:
    """Precision and recall per threshold k, from ``outliers_pr.csv`` or the summary."""
    import pandas as pd

    if (d / "outliers_pr.csv").is_file():
        pr = _read_csv(d / "outliers_pr.csv", ["k", "precision", "recall"])
    elif s.get("precision_recall_vs_k"):
        pr = pd.DataFrame(s["precision_recall_vs_k"])
    else:
        return None
    order = ("k", "n_flagged", "flagged_fraction", "true_positives", "n_defects", "precision", "recall")
    cols = [c for c in order if c in pr.columns]
    rows = [[_pr_cell(c, r[c]) for c in cols] for _, r in pr.iterrows()]
    return _Table(cols, rows, caption="Precision and recall against the planted defects, per threshold k")


def _section_outliers(inp: ReportInputs, rep: _Report) -> Markup:
    d = inp.outliers_dir
    if not _exists(d) or not (d / "outliers.json").is_file():
        return _not_run(
            "Outliers need the output directory of `galvae outliers`.",
            d / "outliers.json" if d is not None and d.exists() else d,
        )
    s = _read_json(d / "outliers.json")
    figures = []
    if (d / "outliers_pr.png").is_file():
        figures.append(
            rep.fig_file(
                d / "outliers_pr.png",
                "Precision, recall and flagged fraction against the threshold k.",
                "outlier precision and recall",
            )
        )
    gallery = None
    if (d / "outliers_gallery.png").is_file():
        gallery = rep.fig_file(
            d / "outliers_gallery.png",
            "The most extreme flagged galaxies (id, largest |z|, latent index), as the paper's Fig. A1. "
            "RGB: z → red, r → green, g → blue.",
            "outlier gallery",
        )
    return _render(
        "sections/outliers.html.j2",
        summary=_outliers_summary(s),
        pr=_outliers_pr(d, s),
        figures=figures,
        gallery=gallery,
    )


#: Rows of ``translation.csv`` in the order the section shows them, with what each method is.
_TRANSLATION_METHODS = {
    "translated": "translated (shared encoder, target decoder)",
    "psf_matched": "PSF-matched source (Gaussian kernel, documented PSFs)",
    "untranslated": "untranslated source image",
}


def _section_translation(inp: ReportInputs, rep: _Report) -> Markup:
    import pandas as pd

    d = inp.translation_dir
    if not _exists(d) or not (d / "translation.csv").is_file():
        return _not_run(
            "Translation needs the output directory of `galvae translate --compare` (a domain-adapted run).",
            d / "translation.csv" if d is not None and d.exists() else d,
        )
    table = pd.read_csv(d / "translation.csv")
    summary = _read_json(d / "translation.json") if (d / "translation.json").is_file() else {}
    order = {m: i for i, m in enumerate(_TRANSLATION_METHODS)}
    table = table.sort_values("method", key=lambda c: c.map(lambda m: order.get(m, len(order))))
    rows = [
        [
            _TRANSLATION_METHODS.get(r.method, str(r.method)),
            _fmt(int(r.n_galaxies)),
            _fmt(r.ssim_mean, 3),
            _fmt(r.mse_mean, 3),
            f"{r.flux_residual_median:+.3f}",
            _fmt(r.flux_residual_mad, 3),
            f"{r.size_residual_median:+.3f}",
            _fmt(r.size_residual_mad, 3),
        ]
        for r in table.itertuples(index=False)
    ]
    source, to = summary.get("source_survey", "source"), summary.get("to", "target")
    result = _Table(
        [
            "prediction of the real target image",
            "galaxies",
            "SSIM",
            "MSE",
            "flux residual",
            "|flux residual|",
            "size residual",
            "|size residual|",
        ],
        rows,
        caption=f"{source} → {to}: each prediction against the real {to} image of the same galaxy "
        "(residuals relative, medians)",
    )
    gallery = None
    if (d / "translation_gallery.png").is_file():
        gallery = rep.fig_file(
            d / "translation_gallery.png",
            f"Source ({source}), translated, real {to} image and translated − real, for the same galaxies. "
            "RGB: z → red, r → green, g → blue.",
            "translation gallery",
        )
    return _render("sections/translation.html.j2", result=result, gallery=gallery, source=source, to=to)


def _section_realism(inp: ReportInputs, rep: _Report) -> Markup:
    d = inp.realism_dir
    if not _exists(d) or not (d / "realism.json").is_file():
        return _not_run(
            "The realism comparison needs real colour images: `galvae demo --real DIR`, or `galvae realism STORE "
            "DIR --out OUT` and `galvae report --realism OUT`.",
            d / "realism.json" if d is not None and d.exists() else d,
        )
    res = _read_json(d / "realism.json")
    rows = [
        [name, _fmt(q.get("ks"), 2), _fmt(q.get("median_real"), 3), _fmt(q.get("median_sim"), 3)]
        for name, q in (res.get("quantities") or {}).items()
    ]
    quantities = _Table(
        ["quantity", "KS", "median real", "median simulated"],
        rows,
        caption=f"{_fmt(res.get('n_sim'))} simulated against {_fmt(res.get('n_real'))} real images; KS = two-sample "
        f"Kolmogorov-Smirnov statistic (0 = same distribution, 1 = disjoint); mean {_fmt(res.get('mean_ks'), 2)}",
    )
    tests = res.get("classifiers") or {}
    classifiers = _Table(
        ["classifier", "balanced accuracy telling simulated from real (0.5 = indistinguishable)"],
        [
            [
                name,
                f"{float(v.get('mean', float('nan'))):.2f} ± {float(v.get('std', float('nan'))):.2f}"
                + (f" (ROC AUC {float(v['auc']):.2f} ± {float(v['auc_std']):.2f})" if "auc" in v else ""),
            ]
            for name, v in tests.items()
        ],
        caption="5-fold cross-validated; features: the quantities, radial profile, colours in annuli, noise power;"
        " the CNN's threshold is set on each training fold",
    )
    nb = res.get("neighbours") or {}
    keys = ("per_image", "faint", "mid", "bright", "median_height", "median_distance")
    neighbours = _Table(
        ["images", "all", "5–10σ", "10–50σ", "≥ 50σ", "median height (σ)", "median distance (sides)"],
        [[name, *(_fmt(v.get(k), 2) for k in keys)] for name, v in nb.items()],
        caption="Neighbouring sources per image by peak height above the sky (galvae.evaluate.realism.neighbour_peaks)",
    )
    sky = res.get("sky_vs_size") or {}
    sky_size = _Table(
        ["images", *(f"{b}: Spearman ρ (small / large half)" for b in "grz")],
        [
            [name, *(f"{_fmt(r.get('rho'), 2)} ({_fmt(r.get('small'), 2)} / {_fmt(r.get('large'), 2)})" for r in rows)]
            for name, rows in sky.items()
        ],
        caption="The sky's mean border level (8-bit) against the galaxy's size in the frame "
        "(galvae.evaluate.realism.sky_size_relation): real skies darken a little around larger galaxies",
    )
    montage = None
    if (d / "realism.png").is_file():
        montage = rep.fig_file(
            d / "realism.png", "Real images (top) and simulated ones (bottom), random draws.", "realism montage"
        )
    return _render(
        "sections/realism.html.j2",
        quantities=quantities,
        classifiers=classifiers if tests else None,
        neighbours=neighbours if nb else None,
        sky_size=sky_size if sky else None,
        montage=montage,
    )


def _mock_gallery(survey: str, path: Path | None, max_mocks: int, rep: _Report) -> dict[str, Any]:
    """The first ``max_mocks`` mocks of one decoder as a figure, or why there is none."""
    from ..data.store import ImageStore
    from ..plots import plot_gallery

    if not _exists(path):
        return {"survey": survey, "missing": _NotRun(f"No mocks for {survey}.", path)}
    with ImageStore(path) as st:
        n = min(len(st), max_mocks)
        if n == 0:
            return {"survey": survey, "missing": _NotRun(f"The mock store of {survey} is empty.")}
        imgs = st.read(slice(0, n))
        ids = st.ids[:n].tolist()
        seed = st.attrs.get("seed")
        kind, k = st.attrs.get("kind"), st.attrs.get("n_components")
        n_all = len(st)
    if kind == "latent_density_sample":
        drawn = f" (z from a {k}-component Gaussian mixture of the galaxies' latent means, seed {seed})"
    else:
        drawn = f" (z ~ N(0, I), seed {seed})" if seed is not None else ""
    figure = rep.fig_obj(
        plot_gallery(imgs, ids, ncols=8),
        f"{n} of {n_all} mock galaxies from the {survey} decoder" + drawn + ". RGB: z → red, r → green, g → blue.",
        f"mock galaxies, {survey}",
    )
    return {"survey": survey, "figure": figure}


def _section_mocks(inp: ReportInputs, rep: _Report, max_mocks: int) -> Markup:
    if not inp.mocks:
        return _not_run("No mock image stores (`galvae generate`) were given.")
    galleries = [_mock_gallery(survey, path, max_mocks, rep) for survey, path in inp.mocks.items()]
    return _render("sections/mocks.html.j2", galleries=galleries)


# --------------------------------------------------------------------------- page


def _run_section(anchor: str, title: str, make: Callable[[], Markup], strict: bool) -> dict[str, Any]:
    """One section's body, or the error that stopped it (raised when ``strict``), and its badge in the contents."""
    body, error, status = Markup(""), None, ""
    try:
        body = make()
    except (GalvaeError, OSError, ValueError, KeyError) as exc:
        if strict:
            raise
        log.warning("report section %r failed: %s", title, exc)
        error, status = str(exc), "error"
    if not status and 'class="notrun"' in body and "<figure" not in body and "<table" not in body:
        status = "notrun"
    status_text = {"error": "error", "notrun": "not run"}.get(status, "")
    return {
        "anchor": anchor,
        "title": title,
        "body": body,
        "error": error,
        "status": status,
        "status_text": status_text,
    }


def write_report(
    out_html: str | os.PathLike[str],
    inputs: ReportInputs,
    *,
    embedding: str = "both",
    seed: int = 0,
    per_class: int = 4,
    max_points: int = 20000,
    max_tsne: int = 3000,
    max_ssim: int = 5000,
    max_mocks: int = 16,
    dpi: int = 100,
    max_image_width: int = 1400,
    strict: bool = False,
) -> Path:
    """Write the self-contained HTML report of a galvae run.

    Parameters
    ----------
    out_html : path
        The HTML file (its directory is created); written atomically.
    inputs : ReportInputs
        The products to show; missing ones make their section say "not run".
    embedding : {"pca", "tsne", "both"}, default "both"
        2-D maps of the latent space (t-SNE from scikit-learn).
    seed : int, default 0
        Seeds the galaxies picked for the galleries, the samples and t-SNE.
    per_class : int, default 4
        Galaxies per class in the reconstruction gallery.
    max_points : int, default 20000
        Galaxies in the PCA map (a seeded random sample beyond).
    max_tsne : int, default 3000
        Galaxies in the t-SNE map (a seeded random sample beyond; t-SNE
        takes ~11 s for 3000 galaxies, on one thread).
    max_ssim : int, default 5000
        Galaxies whose SSIM is computed for the per-class table.
    max_mocks : int, default 16
        Mock galaxies shown per survey.
    dpi : int, default 100
        Resolution of the figures drawn here.
    max_image_width : int, default 1400
        Embedded PNG files wider than this (pixels) are downsampled.
    strict : bool, default False
        Raise when a product exists but cannot be read, instead of showing
        the error in its section.

    Returns
    -------
    Path
        ``out_html``.

    Raises
    ------
    GalvaeValueError
        On a bad option, or ``inputs`` not a :class:`ReportInputs`.
    GalvaeError, OSError
        With ``strict=True``, when a product cannot be read.
    """
    if not isinstance(inputs, ReportInputs):
        raise GalvaeValueError("inputs must be a ReportInputs", type(inputs).__name__)
    check_choice("embedding", embedding, EMBEDDINGS)
    for name, v, lo in (
        ("per_class", per_class, 1),
        ("max_points", max_points, 3),
        ("max_tsne", max_tsne, 3),
        ("max_ssim", max_ssim, 1),
        ("max_mocks", max_mocks, 1),
        ("max_image_width", max_image_width, 16),
        ("dpi", dpi, 10),
    ):
        check_int(name, v, minimum=lo)
    check_int("seed", seed)
    out = Path(out_html)
    rep = _Report(int(dpi), int(max_image_width))
    explorer = None  # a link relative to the report, so the pair can be moved together
    if _exists(inputs.explorer):
        explorer = Path(os.path.relpath(inputs.explorer.resolve(), out.resolve().parent)).as_posix()
    sections: list[tuple[str, str, Callable[[], Markup]]] = [
        ("claims", "The paper's claims, reproduced?", lambda: _section_claims(inputs, rep)),
        ("run", "Run", lambda: _section_header(inputs, rep)),
        ("table3", "Morphology from the latents (Table 3)", lambda: _section_table3(inputs, rep)),
        ("domains", "Domain adaptation DECaLS → BASS+MzLS (Table 4, Fig. 5)", lambda: _section_domains(inputs, rep)),
        ("translation", "Translation between the surveys", lambda: _section_translation(inputs, rep)),
        ("sweep", "SSIM against the latent dimension (Figs. 3, 4)", lambda: _section_sweep(inputs, rep)),
        (
            "reconstructions",
            "Reconstructions per class",
            lambda: _section_recon(inputs, rep, per_class, int(seed), max_ssim),
        ),
        (
            "latent-map",
            "The latent space in two dimensions",
            lambda: _section_latent_map(inputs, rep, embedding, int(seed), max_points, max_tsne, explorer),
        ),
        ("outliers", "Outliers in latent space (Appendix A)", lambda: _section_outliers(inputs, rep)),
        ("mocks", "Mock galaxies from the decoders", lambda: _section_mocks(inputs, rep, max_mocks)),
        ("realism", "Simulated against real images", lambda: _section_realism(inputs, rep)),
    ]
    rendered = [_run_section(anchor, title, make, strict) for anchor, title, make in sections]
    page = _render(
        "page.html.j2",
        title=inputs.title,
        version=__version__,
        date=inputs.date or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        n_figures=rep.n_fig,
        paper_nl=_PAPER_NL,
        sections=rendered,
    )
    page = page + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, page)
    log.info("report: %d figures, %.1f MB -> %s", rep.n_fig, len(page) / 1e6, out)
    return out
