"""Linli market: residents order, the community dispatches, volunteers accept."""
