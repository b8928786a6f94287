"""An interactive page for browsing a latent space: ``galvae explore``.

:func:`build_explorer` writes a static page that works offline, from
``file://`` or served (:func:`serve`, ``galvae explore --serve``)::

    DIR/index.html          the page: its CSS and JavaScript inline, no library, nothing fetched
    DIR/explore-data.js     the data, as a script assigning window.GALVAE_EXPLORE
    DIR/thumbs/img_000.png  thumbnail atlases: 64 x 64 tiles of T x T pixels each
    DIR/thumbs/recon_000.png  the same for the reconstructions (when a model is known)

Why this layout
    Browsers refuse ``fetch()`` and ``XMLHttpRequest`` of ``file://`` URLs,
    but load a ``<script src>`` and an ``<img src>`` beside the page, so the
    data is a script and the thumbnails are images.  Keeping them out of
    ``index.html`` lets the page show its controls while a large data file
    loads and keeps the HTML small.  The numeric arrays (map coordinates,
    neighbours, numeric columns) are base64 of little-endian float32/int32
    (a third of the size of decimal JSON, decoded in milliseconds); ids and
    category names are JSON.  An atlas packs 4096 thumbnails, so 100 000
    galaxies are 25 images rather than 100 000 files.

What the page does
    The map is drawn on a ``<canvas>`` by writing pixels into an
    ``ImageData`` buffer (no DOM node per galaxy), in a fixed random order so
    that no colour hides another systematically; hovering and clicking find
    the nearest point through a uniform grid over the map, built once, so a
    lookup visits a few cells whatever N is.  Wheel zooms, dragging pans.
    Points are coloured by any numeric column (viridis between its 1st and
    99th percentiles) or categorical one (a palette; booleans and text with
    at most :data:`MAX_CATEGORIES` values; a click on a category in the
    legend fades all the others).  Hover shows the thumbnail;
    click shows the galaxy, its reconstruction, its k nearest neighbours in
    latent space (precomputed with :class:`galvae.SimilarityIndex`, exact by default)
    and its catalogue row; the search box finds an id (exact, else the ids
    containing the text), and ``index.html#id=ID`` opens one.

:func:`page_data` reads a page's data back into numpy arrays.
"""

from __future__ import annotations

from .build import (
    DATA_FILE,
    MAX_CATEGORIES,
    PROJECTIONS,
    THUMB_FORMATS,
    ExplorerResult,
    build_explorer,
    page_data,
    umap_available,
)
from .server import HOST, make_server, serve

__all__ = [
    "DATA_FILE",
    "HOST",
    "MAX_CATEGORIES",
    "PROJECTIONS",
    "THUMB_FORMATS",
    "ExplorerResult",
    "build_explorer",
    "make_server",
    "page_data",
    "serve",
    "umap_available",
]
