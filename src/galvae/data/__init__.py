"""Data in: readers, Galaxy Zoo labels, downloads, preprocessing, the image store, datasets."""
