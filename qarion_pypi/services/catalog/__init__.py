"""What repositories hold: repository lifecycle, packages, files, uploads, blobs and retention."""
