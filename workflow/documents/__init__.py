"""The PDFs of the paper form: rendering, stored files, the department zip."""
