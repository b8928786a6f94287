"""The GalSim simulator of galaxies seen by two surveys (built-in default data)."""
