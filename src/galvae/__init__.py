"""galvae: variational autoencoders and domain adaptation for galaxy images.

The public API is curated here; see the README for a tour.  Names are
imported on first use (PEP 562), so ``import galvae`` and the command line
start quickly and torch is loaded only when a model or dataset is needed.

Every name means one thing: ``galvae.simulate`` is the simulator subpackage
(its function is ``galvae.simulate.simulate``), while ``galvae.ssim``,
``galvae.sweep`` and ``galvae.classify`` are functions (their modules are
``galvae.evaluate.ssim`` …).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .config import BANDS, PreprocessConfig, StretchConfig
from .errors import (
    GalvaeDownloadError,
    GalvaeError,
    GalvaeFileError,
    GalvaeInterruptedError,
    GalvaeKeyError,
    GalvaeValueError,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Public name -> module that defines it (imported lazily).
_LAZY: dict[str, str] = {
    # data in
    "ImageStore": "galvae.data.store",
    "ImageStoreWriter": "galvae.data.store",
    "open_store": "galvae.data.store",
    "write_store": "galvae.data.store",
    "GalaxyDataset": "galvae.data.dataset",
    "ImageData": "galvae.data.readers",
    "read_image": "galvae.data.readers",
    "preprocess": "galvae.data.preprocess",
    "IngestReport": "galvae.data.ingest",
    "ingest": "galvae.data.ingest",
    "LAYERS": "galvae.data.download",
    "DownloadReport": "galvae.data.download",
    "download_cutouts": "galvae.data.download",
    "LabelConfig": "galvae.data.labels",
    "labels_from_catalog": "galvae.data.labels",
    "label_counts": "galvae.data.labels",
    "broad_class": "galvae.data.labels",
    "read_catalog": "galvae.data.tables",
    "write_table": "galvae.data.tables",
    # simulation (galvae.simulate is the subpackage; its function is galvae.simulate.simulate)
    "SimulationConfig": "galvae.simulate.core",
    "render_galaxies": "galvae.simulate.core",
    "sample_truth": "galvae.simulate.morphology",
    "load_survey": "galvae.simulate.surveys",
    # models and training
    "ModelConfig": "galvae.models.config",
    "TrainConfig": "galvae.training.config",
    "TrainResult": "galvae.training.train",
    "train": "galvae.training.train",
    # domain adaptation
    "AdaptConfig": "galvae.training.config",
    "AdaptResult": "galvae.training.adapt",
    "adapt": "galvae.training.adapt",
    "mmd2": "galvae.losses.mmd",
    "compare_domains": "galvae.evaluate.domains",
    "compare_table2": "galvae.evaluate.paper",
    "DomainComparison": "galvae.evaluate.domains",
    # the main job
    "DemoConfig": "galvae.demo",
    "run_demo": "galvae.demo",
    # report
    "ReportInputs": "galvae.report",
    "write_report": "galvae.report",
    # evaluation
    "ssim": "galvae.evaluate.ssim",
    "sweep": "galvae.evaluate.sweep",
    "SweepResult": "galvae.evaluate.sweep",
    "find_knee": "galvae.evaluate.sweep",
    "classify": "galvae.evaluate.classify",
    "ClassifyResult": "galvae.evaluate.classify",
    "classification_metrics": "galvae.evaluate.protocol",
    "find_outliers": "galvae.evaluate.outliers",
    "OutlierResult": "galvae.evaluate.outliers",
    "outlier_precision_recall": "galvae.evaluate.outliers",
    "outliers_report": "galvae.evaluate.outliers",
    "evaluate_translation": "galvae.evaluate.translation",
    "TranslationResult": "galvae.evaluate.translation",
    "compare_realism": "galvae.evaluate.realism",
    "RealismResult": "galvae.evaluate.realism",
    "measure_spirals": "galvae.evaluate.spirals",
    # latents
    "GalaxyVAE": "galvae.latents.model",
    "VAETransformer": "galvae.latents.estimator",
    "encode_store": "galvae.latents.catalog",
    "reconstruct_store": "galvae.latents.catalog",
    "translate_store": "galvae.latents.catalog",
    "generate_mocks": "galvae.latents.catalog",
    "read_latent_catalog": "galvae.latents.catalog",
    "SimilarityIndex": "galvae.latents.similar",
    "LatentDensity": "galvae.latents.density",
    # the explorer page (galvae.explore is the subpackage; its function is galvae.explore.build_explorer)
    "build_explorer": "galvae.explore.build",
}

#: Public subpackages named in the API (imported on first use too).
_SUBPACKAGES: tuple[str, ...] = ("simulate", "explore")

__all__ = [  # noqa: PLE0604 (*_LAZY adds strings: the lazily imported names)
    "__version__",
    "BANDS",
    "PreprocessConfig",
    "StretchConfig",
    "GalvaeError",
    "GalvaeValueError",
    "GalvaeFileError",
    "GalvaeInterruptedError",
    "GalvaeKeyError",
    "GalvaeDownloadError",
    *_SUBPACKAGES,
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")  # the import binds it here too
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'galvae' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import explore, simulate  # noqa: F401
    from .data.dataset import GalaxyDataset  # noqa: F401
    from .data.download import LAYERS, DownloadReport, download_cutouts  # noqa: F401
    from .data.ingest import IngestReport, ingest  # noqa: F401
    from .data.labels import LabelConfig, broad_class, label_counts, labels_from_catalog  # noqa: F401
    from .data.preprocess import preprocess  # noqa: F401
    from .data.readers import ImageData, read_image  # noqa: F401
    from .data.store import ImageStore, ImageStoreWriter, open_store, write_store  # noqa: F401
    from .data.tables import read_catalog, write_table  # noqa: F401
    from .demo import DemoConfig, run_demo  # noqa: F401
    from .evaluate.classify import ClassifyResult, classify  # noqa: F401
    from .evaluate.domains import DomainComparison, compare_domains  # noqa: F401
    from .evaluate.outliers import (  # noqa: F401
        OutlierResult,
        find_outliers,
        outlier_precision_recall,
        outliers_report,
    )
    from .evaluate.paper import compare_table2  # noqa: F401
    from .evaluate.protocol import classification_metrics  # noqa: F401
    from .evaluate.realism import RealismResult, compare_realism  # noqa: F401
    from .evaluate.ssim import ssim  # noqa: F401
    from .evaluate.sweep import SweepResult, find_knee, sweep  # noqa: F401
    from .evaluate.translation import TranslationResult, evaluate_translation  # noqa: F401
    from .explore.build import build_explorer  # noqa: F401
    from .latents.catalog import (  # noqa: F401
        encode_store,
        generate_mocks,
        read_latent_catalog,
        reconstruct_store,
        translate_store,
    )
    from .latents.density import LatentDensity  # noqa: F401
    from .latents.estimator import VAETransformer  # noqa: F401
    from .latents.model import GalaxyVAE  # noqa: F401
    from .latents.similar import SimilarityIndex  # noqa: F401
    from .losses.mmd import mmd2  # noqa: F401
    from .models.config import ModelConfig  # noqa: F401
    from .report import ReportInputs, write_report  # noqa: F401
    from .simulate.core import SimulationConfig, render_galaxies  # noqa: F401
    from .simulate.morphology import sample_truth  # noqa: F401
    from .simulate.surveys import load_survey  # noqa: F401
    from .training.adapt import AdaptResult, adapt  # noqa: F401
    from .training.config import AdaptConfig, TrainConfig  # noqa: F401
    from .training.train import TrainResult, train  # noqa: F401
