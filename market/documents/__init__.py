"""Printable documents: PDFs in the product's embedded Chinese font (certificates, letters, reports)."""
