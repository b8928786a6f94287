"""Data in: readers, Galaxy Zoo labels, downloads, preprocessing, the image store, datasets."""

#: The data modules are imported by name (``galvae.data.store``, ``galvae.data.ingest``, ...); the
#: package itself exports nothing, so importing it loads none of them.
__all__: list[str] = []
