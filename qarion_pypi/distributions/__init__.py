"""Distribution files: names, safe archive reading, core metadata, upload rules."""
