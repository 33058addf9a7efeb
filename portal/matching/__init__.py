"""Leads: which vendors could solve a need, and which open needs a vendor could win."""
