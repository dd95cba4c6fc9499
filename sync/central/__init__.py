"""anjungan."""
